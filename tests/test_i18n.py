"""The interface in English and Chinese: every string a visitor reads is marked for
translation, every marked string has a Chinese translation in the committed catalogs, and
the language follows Accept-Language, the switch, and a logged-in user's saved choice."""

from __future__ import annotations

import ast
import gettext
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils.translation.template import templatize

ROOT = Path(settings.BASE_DIR)
TEMPLATES = sorted((ROOT / "templates").rglob("*.html")) + sorted(
    (ROOT / "templates").rglob("*.txt"))
PY_SOURCES = [p for app in ("accounts", "studio") for p in sorted((ROOT / app).rglob("*.py"))
              if "migrations" not in p.parts] + [ROOT / "generation" / "ml" / "mood.py",
                                                 ROOT / "generation" / "pipeline.py"]
JS_SOURCES = sorted((ROOT / "static" / "js").glob("*.js"))
LOCALE = ROOT / "locale"

# words that are the same in every language: names of the product and of file formats
UNTRANSLATED = {"Cadenza", "MIDI", "MusicXML", "BPM", "♪", "—", "·", "…", "%", "/", "★"}
# attributes a person reads (or hears from a screen reader)
READ_ATTRIBUTES = {"alt", "title", "placeholder", "aria-label", "content"}
# <meta> whose content is machinery, not prose
MACHINE_META = {"viewport", "robots", "og:type", "og:url", "og:image", "twitter:card"}

_BLOCK_TRANSLATE = re.compile(r"{%\s*blocktrans(?:late)?\b.*?{%\s*endblocktrans(?:late)?\s*%}",
                              re.S)
_COMMENT = re.compile(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}|{#.*?#}", re.S)
_TAG = re.compile(r"{%.*?%}|{{.*?}}", re.S)
_LETTER = re.compile(r"[^\W\d_]", re.U)


class _Texts(HTMLParser):
    """Collects the text and the read attributes that remain once template tags are gone."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "code"):
            self._skip += 1
        attrs = dict(attrs)
        if tag == "meta" and (attrs.get("name") in MACHINE_META
                              or attrs.get("property") in MACHINE_META
                              or "charset" in attrs):
            return
        for name, value in attrs.items():
            if name in READ_ATTRIBUTES and value:
                self._check(value, f"<{tag} {name}>")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "code") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self._check(data, "text")

    def _check(self, text: str, where: str) -> None:
        words = [w for w in re.split(r"\s+", text.strip()) if w]
        left = [w for w in words if w not in UNTRANSLATED and _LETTER.search(w)]
        if left:
            self.found.append(f"{where}: {text.strip()[:80]!r}")


def unmarked_strings(source: str) -> list[str]:
    """Text in a template that a visitor would read untranslated."""
    source = _COMMENT.sub("", source)
    source = _BLOCK_TRANSLATE.sub("", source)
    source = _TAG.sub("", source)
    parser = _Texts()
    parser.feed(source)
    return parser.found


def catalog(domain: str) -> gettext.GNUTranslations:
    with open(LOCALE / "zh_Hans" / "LC_MESSAGES" / f"{domain}.mo", "rb") as f:
        return gettext.GNUTranslations(f)


_CALL_NAMES = {"_", "gettext", "gettext_lazy", "pgettext", "pgettext_lazy", "ngettext",
               "ngettext_lazy", "npgettext", "npgettext_lazy"}


def _py_msgids(source: str) -> set[tuple[str | None, str]]:
    """(context, msgid) of every literal passed to a gettext function in Python source."""
    out = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name not in _CALL_NAMES:
            continue
        args = [a.value if isinstance(a, ast.Constant) and isinstance(a.value, str) else None
                for a in node.args]
        if name.startswith("p") or name.startswith("np"):
            if len(args) >= 2 and args[0] and args[1]:
                out.add((args[0], args[1]))
        elif args and args[0]:
            out.add((None, args[0]))
    return out


def _has_translation(cat: gettext.GNUTranslations, context: str | None, msgid: str) -> bool:
    key = f"{context}\x04{msgid}" if context else msgid
    # plural entries are stored under (msgid, 0)
    return key in cat._catalog or (key, 0) in cat._catalog  # noqa: SLF001


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_template_string_is_marked_for_translation(path):
    if path.suffix == ".txt":
        pytest.skip("plain-text mail parts are checked by the catalog test")
    assert unmarked_strings(path.read_text()) == []


def test_the_unmarked_string_detector_finds_bare_text_and_attributes():
    assert unmarked_strings("<p>Hello {% translate 'x' %}</p>") == ["text: 'Hello'"]
    assert unmarked_strings('<img alt="Piano roll">') == ["<img alt>: 'Piano roll'"]
    assert unmarked_strings("<p>{% translate 'Hello' %} · MIDI</p>") == []
    assert unmarked_strings("<p>{% blocktranslate %}Hi {{ x }}{% endblocktranslate %}</p>") == []


_LITERAL = r"""u?('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
_TEMPLATIZED = re.compile(rf"\b(n?p?gettext)\({_LITERAL}(?:,\s*{_LITERAL})?")


def _template_msgids(source: str) -> set[tuple[str | None, str]]:
    """(context, msgid) of the template's marked strings, read from Django's own
    ``templatize`` (what makemessages hands to xgettext)."""
    out = set()
    for name, first, second in _TEMPLATIZED.findall(templatize(source)):
        first = ast.literal_eval(first)
        if "p" in name.replace("gettext", ""):
            out.add((first, ast.literal_eval(second)))
        else:
            out.add((None, first))
    return out


def test_every_template_string_has_a_chinese_translation():
    cat = catalog("django")
    missing = []
    for path in TEMPLATES:
        for context, msgid in _template_msgids(path.read_text()):
            if not _has_translation(cat, context, msgid):
                missing.append(f"{path.name}: {msgid!r}")
    assert missing == []


def test_every_python_and_javascript_string_has_a_chinese_translation():
    missing = []
    cat = catalog("django")
    for path in PY_SOURCES:
        for context, msgid in _py_msgids(path.read_text()):
            if not _has_translation(cat, context, msgid):
                missing.append(f"{path.name}: {msgid!r}")
    js = catalog("djangojs")
    call = re.compile(r"""\bgettext\(\s*"((?:[^"\\]|\\.)*)"\s*\)""")
    for path in JS_SOURCES:
        for msgid in call.findall(path.read_text()):
            if not _has_translation(js, None, json.loads(f'"{msgid}"')):
                missing.append(f"{path.name}: {msgid!r}")
    assert missing == []


def test_the_catalog_check_notices_a_missing_entry():
    assert not _has_translation(catalog("django"), None, "A sentence nobody translated")
    found = _template_msgids('{% load i18n %}{% translate "Gallery" %}'
                             '{% translate "Main" context "navigation" %}'
                             '{% blocktranslate %}Play {{ track }}{% endblocktranslate %}')
    assert found == {(None, "Gallery"), ("navigation", "Main"), (None, "Play %(track)s")}


def test_chinese_music_terms_are_written_as_musicians_write_them():
    from django.utils import translation

    from studio.forms import ComposeForm

    with translation.override("zh-hans"):
        form = ComposeForm()
        labels = {str(c[1]) for c in form.fields["mode"].choices}
        assert {"大调", "小调"} <= labels
        styles = {str(c[1]) for c in form.fields["style"].choices}
        assert {"合唱", "文艺复兴", "德国民歌", "中国民歌", "凯尔特"} <= styles
        assert "速度" in str(form.fields["tempo_bpm"].label)
        assert "音区" in str(form.fields["register_band"].label)
        assert "织体" in str(form.fields["density_band"].label)


# --- the language a visitor gets ---------------------------------------------------------------

@pytest.mark.django_db
def test_a_chinese_browser_gets_the_chinese_interface(client):
    page = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    html = page.content.decode()
    assert '<html lang="zh-hans"' in html
    assert "作品廊" in html  # Gallery
    english = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.8")
    assert '<html lang="en"' in english.content.decode()
    assert "Gallery" in english.content.decode()


@pytest.mark.django_db
def test_every_page_offers_the_language_switch(client, owner):
    client.force_login(owner)
    for name in ("home", "studio:gallery", "studio:compose", "studio:my-tracks", "profile"):
        html = client.get(reverse(name)).content.decode()
        assert f'action="{reverse("set_language")}"' in html, name
        assert 'value="zh-hans"' in html and "简体中文" in html, name


@pytest.mark.django_db
def test_the_switch_is_remembered_for_a_logged_in_user_on_another_browser(client, owner):
    from django.test import Client

    client.force_login(owner)
    response = client.post(reverse("set_language"),
                           {"language": "zh-hans", "next": reverse("studio:gallery")})
    assert response.status_code == 302 and response["Location"] == reverse("studio:gallery")
    other_browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    other_browser.force_login(owner)
    assert '<html lang="zh-hans"' in other_browser.get(reverse("home")).content.decode()
    # and a visitor who is not logged in keeps their own browser's language
    assert '<html lang="en"' in Client(HTTP_ACCEPT_LANGUAGE="en").get(
        reverse("home")).content.decode()


@pytest.mark.django_db
def test_an_unknown_language_is_refused_without_saving_anything(client, owner):
    from accounts.models import LanguagePreference

    client.force_login(owner)
    client.post(reverse("set_language"), {"language": "xx", "next": "/"})
    assert not LanguagePreference.objects.filter(user=owner).exists()
    assert '<html lang="en"' in client.get(reverse("home"),
                                           HTTP_ACCEPT_LANGUAGE="en").content.decode()


@pytest.mark.django_db
def test_the_javascript_catalog_speaks_the_visitors_language(client):
    body = client.get(reverse("javascript-catalog"), HTTP_ACCEPT_LANGUAGE="zh-hans").content
    sending = "正在发送"  # "Sending…", which the catalog may write as \\u escapes
    assert sending.encode() in body or json.dumps(sending)[1:-1].encode() in body


@pytest.mark.django_db
def test_dates_are_localised(client, owner):
    client.force_login(owner)
    html = client.get(reverse("profile"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert f"{owner.date_joined.year}年" in html
