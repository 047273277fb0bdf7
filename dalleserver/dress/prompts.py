"""Prompt templates: title, terse, data, prompt, author persona and technical brief.

The structure follows the original (reference §5.2-§5.3); the wording is ours. Unlike the
original, the data prompt is a real listing, and an attribute that is missing or ``none``
drops its whole clause instead of leaving "Setting: ." or doubled spaces behind.
"""

from __future__ import annotations

import functools
import string

from dalleserver.dress.model import DalleDress

_VOWEL_SOUNDS = ("a", "e", "i", "o", "u")
_CONSONANT_EXCEPTIONS = ("uni", "use", "usu", "uti", "eu", "one", "ewe", "uk")
_VOWEL_EXCEPTIONS = ("hour", "honest", "honor", "heir", "herb")


def article(word: str) -> str:
    """'a' or 'an' for the word that follows (good enough for our vocabulary)."""
    w = word.strip().lower()
    if not w:
        return "a"
    if w.startswith(_VOWEL_EXCEPTIONS):
        return "an"
    if w.startswith(_CONSONANT_EXCEPTIONS):
        return "a"
    return "an" if w[0] in _VOWEL_SOUNDS else "a"


def _with_gloss(word: str, gloss: str) -> str:
    return f"{word} ({gloss})" if word and gloss else word


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


_PAD = ("",) * 8


@functools.lru_cache(maxsize=65536)
def split_row(value: str) -> tuple[str, ...]:
    """A row's trimmed columns padded with "" (``none`` and "" give no columns)."""
    if not value or value == "none":
        return _PAD
    parts = tuple(p.strip() for p in value.split(","))
    return parts + _PAD[: max(0, 8 - len(parts))]


class Words:
    """Short and long forms of every attribute of a dress ("" for missing or ``none``).

    Forms used by several templates are computed once, on first use.
    """

    def __init__(self, dress: DalleDress) -> None:
        self.dress = dress
        self.parts: dict[str, tuple[str, ...]] = {
            a.name: split_row(a.value) for a in dress.attributes
        }
        self._memo: dict[str, str] = {}

    def part(self, name: str, index: int) -> str:
        parts = self.parts.get(name, _PAD)
        return parts[index] if index < len(parts) else ""

    def short(self, name: str) -> str:
        return self.parts.get(name, _PAD)[0]

    def glossed(self, name: str, gloss_index: int = 1) -> str:
        key = f"{name}/{gloss_index}"
        memo = self._memo.get(key)
        if memo is None:
            parts = self.parts.get(name, _PAD)
            memo = _with_gloss(parts[0], parts[gloss_index] if gloss_index < len(parts) else "")
            self._memo[key] = memo
        return memo

    def _once(self, key: str, compute) -> str:
        memo = self._memo.get(key)
        if memo is None:
            memo = self._memo[key] = compute()
        return memo

    # -- attribute-specific forms -------------------------------------------------------
    @property
    def noun(self) -> str:
        return self.short("noun") or "creature"

    def noun_long(self) -> str:
        return self._once("noun_long", self._noun_long)

    def _noun_long(self) -> str:
        name = self.short("noun")
        if not name:
            return ""
        family, klass = self.part("noun", 1), self.part("noun", 3)
        if family and klass:
            return f"{name}, one of the {family} among the {klass}"
        if family:
            return f"{name}, one of the {family}"
        return name

    def emotion_long(self) -> str:
        return self.glossed("emotion", 4)

    def occupation_long(self) -> str:
        return self._once("occupation_long", self._occupation_long)

    def _occupation_long(self) -> str:
        job = self.short("occupation")
        if not job:
            return ""
        duty = self.part("occupation", 1)
        return f"{article(job)} {job} who {duty}" if duty else f"{article(job)} {job}"

    def art_style_long(self, n: int) -> str:
        return self.glossed(f"artStyle{n}", 3)

    def lit_style_long(self) -> str:
        return self.glossed("litStyle", 1)

    def color_long(self, n: int) -> str:
        return self.glossed(f"color{n}", 1)

    def viewpoint_long(self) -> str:
        return self._once("viewpoint_long", self._viewpoint_long)

    def _viewpoint_long(self) -> str:
        view = self.short("viewpoint")
        if not view:
            return ""
        detail = self.part("viewpoint", 2)
        text = f"Frame the {self.noun} with {article(view)} {view} viewpoint"
        return f"{text} ({detail})" if detail else text

    def composition_long(self) -> str:
        return self._once("composition_long", self._composition_long)

    def _composition_long(self) -> str:
        comp = self.short("composition")
        if not comp:
            return ""
        detail = self.part("composition", 2)
        used = f"{comp} ({detail})" if detail else comp
        return f"Compose the picture using {used} with the {self.noun} as the focal point"

    def gaze_long(self) -> str:
        return self._once("gaze_long", self._gaze_long)

    def _gaze_long(self) -> str:
        gaze = ", ".join(p for p in self.parts.get("gaze", _PAD) if p)
        return f"the {self.noun} looks {gaze}" if gaze else ""

    def place_long(self) -> str:
        return ", ".join(p for p in self.parts.get("place", _PAD)[:3] if p)

    def trope_long(self) -> str:
        return self.glossed("trope", 2)

    def mixing_level(self) -> int:
        return self.dress.number("artStyle2") % 5 + 1

    def style_directive(self) -> str:
        return self._once("style_directive", self._style_directive)

    def _style_directive(self) -> str:
        a, b = self.art_style_long(1), self.art_style_long(2)
        if not a and not b:
            return "Render it in whatever artistic style suits the subject best"
        if not a or not b or self.short("artStyle1") == self.short("artStyle2"):
            return f"Render it in {a or b}"
        lead = self.short("artStyle1")
        return {
            1: f"Render it in {a}, with subtle echoes of {b}",
            2: f"Render it in {a}, lightly touched by {b}",
            3: f"Render it in {a}, as an artist schooled in {b} would",
            4: f"Render it as a bold fusion of {a} and {b}, with {lead} in the lead",
            5: f"Render it with {a} and {b} in equal measure",
        }[self.mixing_level()]

    def color_directive(self) -> str:
        return self._once("color_directive", self._color_directive)

    def _color_directive(self) -> str:
        c1, c2 = self.color_long(1), self.color_long(2)
        if not c1 or not c2:
            return "Use whatever palette best serves the mood."
        pair = c1 if c1 == c2 else f"{c1} and {c2}"
        limit = self.dress.color_limit.strip()
        if not limit:
            return (
                f"Let {pair} lead the palette; other colors may support "
                f"{'them' if c1 != c2 else 'it'} across the full range."
            )
        return f"Use only {limit} colors based on {pair}; introduce no other colors."

    def background(self) -> str:
        return self._once("background", self._background)

    def _background(self) -> str:
        template = self.dress.value("backStyle").strip()
        if not template or template == "none":
            return ""
        color = self.color_long(3) or "a color that suits the mood"
        style = self.art_style_long(2) or self.art_style_long(1) or "the main style"
        return template.replace("[{Color3}]", color).replace("[{ArtStyle2}]", style)

    def subject_phrase(self) -> str:
        """'quietly (gloss) brave (gloss) otter' with missing words dropped."""
        words = [self.glossed("adverb"), self.glossed("adjective"), self.noun]
        return " ".join(w for w in words if w)

    def feeling_clause(self) -> str:
        parts = []
        emotion = self.emotion_long()
        if emotion:
            parts.append(f"feeling {emotion}")
        job = self.occupation_long()
        if job:
            parts.append(f"working as {job}")
        return ", ".join(parts)


def title_prompt(w: Words) -> str:
    names = ("emotion", "adverb", "adjective", "occupation", "noun")
    return string.capwords(" ".join(s for s in (w.short(n) for n in names) if s))


def terse_prompt(w: Words) -> str:
    text = f"{w.subject_phrase()} with human-like traits"
    feeling = w.feeling_clause()
    if feeling:
        text += f", {feeling}"
    style = w.short("artStyle1")
    if style:
        text += f", in the style of {style}"
    return _capitalize(text) + "."


def base_prompt(w: Words) -> str:
    subject = w.subject_phrase()
    opening = f"Draw {article(subject)} {subject} with human-like characteristics"
    feeling = w.feeling_clause()
    if feeling:
        opening += f", {feeling}"
    lines = [opening + ".", ""]

    def labelled(label: str, value: str) -> None:
        if value:
            lines.append(f"{label}: {value}.")

    labelled("Noun", w.noun_long())
    labelled("Emotion", w.emotion_long())
    labelled("Occupation", w.occupation_long())
    labelled("Action", w.glossed("action"))
    lines.append(w.style_directive() + ".")
    labelled("Literary style", w.lit_style_long())
    lines.append(w.color_directive())
    labelled("Camera/viewpoint", w.short("viewpoint"))
    labelled("Composition", w.short("composition"))
    labelled("Gaze", w.gaze_long())
    background = w.background()
    if background:
        lines.append(background + ".")
    place = w.place_long()
    if place:
        lines.append(f"Setting: {place}, with details that make the location recognizable.")
    labelled("Narrative undertone", w.trope_long())

    quoted = [f'"{s}"' for s in (w.short(n) for n in ("noun", "emotion", "adjective", "adverb"))
              if s]
    lines.append("")
    if quoted:
        listed = ", ".join(quoted[:-1]) + (" and " if len(quoted) > 1 else "") + quoted[-1]
        lines.append(
            "Make the emotion the heart of the picture: let pose, expression and light carry "
            f"it, and build on the ideas of {listed}."
        )
    else:
        lines.append("Make the emotion the heart of the picture.")
    lines.append("")
    lines.append(f"Keep the {w.noun} as the single clear subject of the image.")
    return "\n".join(lines)


def author_prompt(w: Words) -> str:
    style = w.short("litStyle")
    if not style:
        return ""
    lines = [f"You are an award-winning author celebrated for your {style}."]
    description = w.part("litStyle", 1)
    if description:
        lines.append(f"{_capitalize(style)} is a literary style that {description}.")
    polarity, group = w.part("emotion", 2), w.part("emotion", 1)
    if polarity and group:
        lines.append(f"Your emotional register is {polarity}, rooted in {group}.")
    lines.append("Keep every concrete detail of the art prompt you are given.")
    return "\n".join(lines)


def technical_prompt(w: Words) -> str:
    lines = ["Technical brief for the image:"]
    for label, value in (
        ("Style", w.style_directive() + "."),
        ("Color", w.color_directive()),
        ("Composition", w.composition_long()),
        ("Background", w.background()),
        ("Viewpoint", w.viewpoint_long()),
        ("Gaze", w.gaze_long()),
    ):
        if value:
            lines.append(f"- {label}: {value}")
    emotion = w.emotion_long() or "its mood"
    lines += [
        "",
        "Quality Standards:",
        "- Crisp detail, deliberate lighting and a finished, gallery-ready look.",
        f"- The {w.noun}'s pose and expression must make {emotion} unmistakable.",
        "- Believable anatomy and consistent perspective throughout.",
        "- One clear focal point; nothing cropped awkwardly at the edges.",
        "",
        "NO TEXT, LETTERS, NUMBERS OR SIGNATURES ANYWHERE IN THE IMAGE.",
    ]
    return "\n".join(lines)


def data_prompt(w: Words) -> str:
    """A two-column listing of every selected attribute, short and long form."""
    dress = w.dress
    longs = {
        "adverb": w.glossed("adverb"),
        "adjective": w.glossed("adjective"),
        "noun": w.noun_long(),
        "emotion": w.emotion_long(),
        "occupation": w.occupation_long(),
        "action": w.glossed("action"),
        "artStyle1": w.art_style_long(1),
        "artStyle2": w.art_style_long(2),
        "litStyle": w.lit_style_long(),
        "color1": w.color_long(1),
        "color2": w.color_long(2),
        "color3": w.color_long(3),
        "viewpoint": w.viewpoint_long(),
        "gaze": w.gaze_long(),
        "composition": w.composition_long(),
        "place": w.place_long(),
        "trope": w.trope_long(),
        "backStyle": w.background(),
    }
    lines = [
        f"{'original':<14}{dress.original}",
        f"{'fileName':<14}{dress.file_name}",
        f"{'series':<14}{dress.series}",
        f"{'seed':<14}{dress.seed}",
        "",
        f"{'attribute':<14}{'short':<28}long",
    ]
    for attribute in dress.attributes:
        name = attribute.name
        short = w.short(name) or "none"
        if name == "backStyle":
            short = "-"
        long_form = longs.get(name, "") or short
        lines.append(f"{name:<14}{short:<28}{long_form}")
    lines += [
        "",
        f"{'mixingLevel':<14}{w.mixing_level()}",
        f"{'style':<14}{w.style_directive()}.",
        f"{'color':<14}{w.color_directive()}",
    ]
    return "\n".join(lines)


def fill_prompts(dress: DalleDress) -> DalleDress:
    """Compute every prompt of a dress in place and return it."""
    w = Words(dress)
    dress.title_prompt = title_prompt(w)
    dress.terse_prompt = terse_prompt(w)
    dress.prompt = base_prompt(w)
    dress.data_prompt = data_prompt(w)
    dress.author_prompt = author_prompt(w)
    dress.technical_prompt = technical_prompt(w)
    return dress
