"""Personal identifiers and names in a participant's comment, masked before it is stored.

Identifiers (CPR number, fødselsnummer, NI number, e-mail address, phone number) are found by
contracts.personal, the same rules every other text in Virker is read by. Names are found by
the rules below. A maintained NLP library would be the first choice for names, but none fits
here: the spaCy and DaCy models for Danish and Norwegian are not packages on the index Virker
installs from; they are downloaded from GitHub or Hugging Face at run time, which production
and CI cannot rely on.

A word (letters, joined by `-` or an apostrophe: "Anne-Marie", "O'Brien") is masked as a name,
"[name removed]", when

(a) it is capitalised and is not the first word of a sentence. In Danish and Norwegian nouns
    are written in lower case, and in English most capitalised words inside a sentence are
    proper nouns too. Not read as names by this rule: the English pronoun "I" ("I'm",
    "I've"), single letters ("plan A"), words written in capitals (acronyms such as "NAV",
    "CPR", "ADHD", or emphasis) and compounds of them ("CPR-bevis", "A-kassen"), titles
    ("Dr", "fru"), and a short list of capitalised words that name no one (English days,
    months, languages and nationalities; "Nav", "Kommunen", "God"). The first word of a
    sentence is the first of the text, or one after `. ! ? … :`, a line break or a quotation
    mark. Place names and the names of organisations are masked by this rule too ("Jeg bor
    i [name removed]"): over-masking a comment is the safe side, and the commissioner reads
    every comment before it is shown;
(b) it follows words that introduce a name, even at the start of a sentence or in lower
    case: a naming verb ("hedder", "heter", "my name is", "mit navn er", "named") introduces
    the next word unless it is a small word such as "det" or "ikke" ("hvad hedder det");
    a person's role ("min kontaktperson", "kontaktpersonen", "min sagsbehandler",
    "rådgiver", "veileder", "my key worker"), "jeg er", "I am", "called", "hed", "het", or a
    title ("Mr", "Mrs", "Ms", "Dr", "fru", "hr.") introduces the next word when it is
    capitalised or a listed name ("min rådgiver anne"; "jeg er glad" stays);
(c) it is one of the common Danish, Norwegian and English names in voice.names, capitalised
    or in capitals, also as the first word of a sentence ("Mette var sød", "TAK TIL METTE").
    A listed name that is also a word loses a sentence's first word now and then ("Per uge"
    becomes "[name removed] uge"): the safe side again.

A name's following words belong to it when they are capitalised, an initial ("Mette H.
Jensen"), a listed name, or a Danish or Norwegian surname in -sen written in lower case
("jeg hedder mette hansen"): "Mette Hansen" becomes one "[name removed]". A possessive "'s" is
kept ("[name removed]'s"). Everything else (punctuation, white space, numbers that are no
identifier) is left as it was. The markers ("[name removed]", "[CPR number removed]") are
never masked again, so masking a masked comment changes nothing.

Names missed: a name that voice.names leaves out because it opens ordinary sentences ("Hans
mor ringede", Danish for "his mother called", stays, so "Hans ringede" stays too), and a
lower-case name that no word in (b) introduces.

The text is read once, word by word, in time linear in its length (comments are at most
2,000 characters).

Pure: no I/O, no framework.
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

from contracts import personal
from voice.names import ALSO_WORDS, NAMES

NAME = "[name removed]"
_PASSES = 4

# A marker this module or contracts.personal wrote: "[name removed]", "[CPR number removed]".
_MARKER = r"\[[\w .-]{1,40} removed\]"
_TOKEN = re.compile(rf"{_MARKER}|[^\W\d_]+(?:['’-][^\W\d_]+)*")
# What ends a sentence or opens a line or a quotation: the next word starts a sentence.
_BREAKS = frozenset(".!?…:\n\r\"“”„«»'‘’")
_SPACE = frozenset(" \t\u00a0")
# What may stand between words introducing a name and the name ("min kontaktperson, Mette").
_INTRO_GAP = _SPACE | frozenset(":,-–—(\"“”„«»'‘’")

Kind = Literal["naming", "role", "title"]
_NAMING = ("hedder", "heter", "navn er", "navnet er", "navnet mitt er", "name is",
           "name was", "named")
_ROLES = (
    # "hed" and "het" are also "hot": "en het sommer" names no one.
    "hed", "het", "jeg er", "i am", "i'm", "i’m", "called", "kaldet", "kalt", "kontaktperson",
    "kontaktpersonen", "sagsbehandler", "sagsbehandleren", "saksbehandler", "saksbehandleren",
    "socialrådgiver", "socialrådgiveren", "rådgiver", "rådgiveren", "vejleder", "vejlederen",
    "veileder", "veilederen", "mentor", "mentoren", "koordinator", "koordinatoren",
    "contact person", "caseworker", "case worker", "key worker", "keyworker", "support worker",
    "social worker", "adviser", "advisor")


def _phrases() -> dict[str, list[tuple[tuple[str, ...], Kind]]]:
    """The phrases that introduce a name, by their last word."""
    out: dict[str, list[tuple[tuple[str, ...], Kind]]] = {}
    kinds: list[tuple[str, Kind]] = [(p, "naming") for p in _NAMING]
    kinds += [(p, "role") for p in _ROLES]
    for phrase, kind in kinds:
        words = tuple(phrase.split())
        out.setdefault(words[-1], []).append((words, kind))
    return out


_PHRASES = _phrases()
_TITLES = frozenset({
    "Mr", "Mrs", "Ms", "Mx", "Miss", "Dr", "Prof", "mr", "mrs", "ms", "dr",
    "fru", "Fru", "hr", "Hr", "herr", "Herr", "frk", "Frk"})

# Small words that never follow a naming verb as a name ("hvad hedder det").
_SMALL_WORDS = frozenset("""
af alle alt altså at bare blev ble blot da de dem den denne dengang der deres dermed det
dette dig din dine dit du eller en endnu ens er et faktisk for fordi fra godt ham han hans
har havde hadde hende henne her hos hun hva hvad hvem hvor hvordan hvorfor hvis i ikke
ingen ja jeg jo kun man med meg meget mig min mine mit mitt mye måske kanskje nej nei noe
noen noget nogen nok nu nå når og også om på sig seg sin sine sit sitt skal skulle slik
som så sådan til ud ut var vel vi vil ville vores vår være været vært
a about after all also an and any as at be because but by for from had has have he her
here him his how i if in is it its just me my no not now of on or our she so some that the
their them then there they this to too us was we what when where who why will with you
your
""".split())

# Capitalised words that name no one.
_NOT_NAMES = frozenset("""
monday tuesday wednesday thursday friday saturday sunday
january february march april may june july august september october november december
english danish norwegian swedish finnish icelandic british scottish welsh irish european
scandinavian nordic american african asian arabic polish ukrainian russian somali turkish
syrian afghan eritrean iraqi iranian kurdish pakistani indian muslim muslims islam
christmas easter jul god gud internet covid corona ok tv
nav jobcenter jobcentret jobcenteret kommune kommunen region regionen de dem deres
e-mail email sms mitid nemid bankid e-boks
""".split())


class _Token(NamedTuple):
    start: int
    end: int
    word: str
    marker: bool


def _base(word: str) -> str:
    """The word in lower case without an English possessive."""
    low = word.lower()
    return low[:-2] if low.endswith(("'s", "’s")) else low


def _listed(word: str, *, lower_case: bool) -> bool:
    """A listed name ("Mette", "Mettes", "Mette's", "Anne-Marie", "METTE"). Written in lower
    case it counts only when `lower_case`; in lower case or in capitals, not when it is also
    an ordinary word ("per", "TOM")."""
    base = _base(word)
    if word.islower() and not lower_case:
        return False
    if (word.islower() or word.isupper()) and base in ALSO_WORDS:
        return False
    return (base in NAMES or (base.endswith("s") and base[:-1] in NAMES)
            or base.split("-")[0] in NAMES)


def _pronoun_i(word: str) -> bool:
    return word == "I" or word.startswith(("I'", "I’"))


def _capitalised(word: str) -> bool:
    """Capitalised and not written in capitals ("Mette", "McDonald"; not "NAV", not "A"),
    nor a compound of an acronym or a letter ("CPR-bevis", "NAV-kontoret", "A-kassen")."""
    return (len(word) > 1 and word[0].isupper() and not word.isupper()
            and not word.split("-")[0].isupper())


def _proper(word: str) -> bool:
    """A capitalised word inside a sentence that is read as a name: rule (a)."""
    return (_capitalised(word) and not _pronoun_i(word) and word not in _TITLES
            and _base(word) not in _NOT_NAMES)


def _introduced_by(tokens: list[_Token], i: int, text: str) -> Kind | None:
    """Whether the words before token i introduce a name, and how."""
    if i == 0 or tokens[i - 1].marker:
        return None
    previous = tokens[i - 1]
    gap = text[previous.end:tokens[i].start]
    if "\n" in gap or not set(gap) <= _INTRO_GAP | {"."}:
        return None
    if previous.word in _TITLES:
        return "title"
    if "." in gap:
        return None
    for words, kind in _PHRASES.get(previous.word.lower(), ()):
        first = i - len(words)
        if first >= 0 and all(
                not tokens[first + k].marker and tokens[first + k].word.lower() == w
                and (k == 0 or set(text[tokens[first + k - 1].end:tokens[first + k].start])
                     <= _SPACE)
                for k, w in enumerate(words)):
            return kind
    return None


def _name_after(word: str, kind: Kind) -> bool:
    if _pronoun_i(word) or word.lower() in _SMALL_WORDS:
        return False
    if kind == "naming":
        return True
    return _proper(word) or _listed(word, lower_case=True)


def _continues(word: str, gap: str, previous: str) -> bool:
    """Whether `word` goes on the name `previous` ended: "Mette Hansen", "Mette H. Jensen"."""
    initial = len(previous) == 1 and previous.isupper()
    if not gap or not (set(gap) <= _SPACE or (initial and gap[0] == "." and set(gap[1:])
                                              <= _SPACE and len(gap) > 1)):
        return False
    if _pronoun_i(word) or word.lower() in _SMALL_WORDS:
        return False
    return (_proper(word) or (len(word) == 1 and word.isupper())
            or _listed(word, lower_case=True)
            or (word.islower() and len(word) >= 5 and word.endswith("sen")))


def _name_tokens(text: str) -> tuple[list[_Token], list[bool]]:
    tokens = [_Token(m.start(), m.end(), m.group(), m.group().startswith("["))
              for m in _TOKEN.finditer(text)]
    named = [False] * len(tokens)
    end = 0
    for i, token in enumerate(tokens):
        gap, end = text[end:token.start], token.end
        if token.marker:
            continue
        word = token.word
        kind = _introduced_by(tokens, i, text)
        if kind is not None and _name_after(word, kind):
            named[i] = True
        elif i and named[i - 1] and _continues(word, gap, tokens[i - 1].word):
            named[i] = True
        else:
            starts_sentence = i == 0 or any(c in _BREAKS for c in gap)
            named[i] = ((not starts_sentence and _proper(word))
                        or (not word.islower() and _listed(word, lower_case=False)))
    return tokens, named


def mask_names(text: str) -> str:
    """`text` with every name it finds replaced by "[name removed]"."""
    tokens, named = _name_tokens(text)
    out: list[str] = []
    written = 0  # text[:written] is in `out`
    i = 0
    while i < len(tokens):
        if not named[i]:
            i += 1
            continue
        start = tokens[i].start
        while i + 1 < len(tokens) and named[i + 1] and _continues(
                tokens[i + 1].word, text[tokens[i].end:tokens[i + 1].start], tokens[i].word):
            i += 1
        end = tokens[i].end
        if tokens[i].word.lower().endswith(("'s", "’s")):
            end -= 2
        out += [text[written:start], NAME]
        written = end
        i += 1
    out.append(text[written:])
    return "".join(out)


def mask_comment(text: str) -> str:
    """`text` with its personal identifiers ("[CPR number removed]", "[e-mail address
    removed]", ...) and the names it finds ("[name removed]") masked."""
    # An identifier right after another can show only once the first is masked ("010190-1234
    # 12 34 56 78": the phone number reads as part of a longer number until then); each pass
    # masks at least one, so a few passes leave none.
    for _ in range(_PASSES):
        masked = personal.mask(text)
        if masked == text:
            break
        text = masked
    return mask_names(text)
