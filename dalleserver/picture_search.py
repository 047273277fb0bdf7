"""Finding pictures in the picture index: search words (the start of an address, in any
case, or words of the picture's title), a choice of series, an order and a page.

A query costs the pictures it finds, not the collection: an address prefix is a range of
the index's address order, a title word a list in the word index below; a query without
words pages straight through one of the index's orders.
"""

from __future__ import annotations

import bisect
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dalleserver.folder_index import FolderIndex
from dalleserver.storage import Key

if TYPE_CHECKING:
    from dalleserver.picture_index import Picture

NEWEST, OLDEST, SERIES, ADDRESS = "newest", "oldest", "series", "address"
SORTS = (NEWEST, OLDEST, SERIES, ADDRESS)
MAX_QUERY = 200  # characters of search text looked at
TITLE_BYTES = 2000  # a title prompt is a line; a larger file is read this far
_HEX = re.compile(r"^(0x)?[0-9a-f]+$")
_WORD = re.compile(r"\w+")

# the order of a sorted list of found pictures, and whether it runs backwards
_SORT_KEYS: dict[str, tuple[Callable[[Picture], tuple], bool]] = {
    NEWEST: (lambda p: (p.mtime, p.series, p.address), True),
    OLDEST: (lambda p: (p.mtime, p.series, p.address), False),
    SERIES: (lambda p: (p.series, -p.mtime, p.address), False),
    ADDRESS: (lambda p: (p.address, p.series), False),
}


@dataclass(frozen=True)
class PictureQuery:
    """What to find: ``text`` (search words), ``series`` (None: every visible one), the
    ``sort`` (one of SORTS) and the page as ``offset`` and ``limit``."""

    text: str = ""
    series: frozenset[str] | None = None
    sort: str = NEWEST
    offset: int = 0
    limit: int = 48


@dataclass(frozen=True)
class Found:
    """How many pictures match, and the page of them asked for."""

    total: int
    pictures: list[Picture]


@dataclass(frozen=True)
class Term:
    """One search word: an address prefix ("0x…"), title words, or both for bare hex."""

    address_prefix: str = ""
    word: str = ""


def search_terms(text: str) -> list[Term]:
    """The terms of a search text: each must match (a bare hex word such as ``cafe`` may
    match the start of an address or a word of the title)."""
    terms = []
    for token in text[:MAX_QUERY].lower().replace(",", " ").split():
        if _HEX.match(token):
            prefix = token if token.startswith("0x") else "0x" + token
            bare = "" if token.startswith("0x") else token
            if len(prefix) > 2:
                terms.append(Term(address_prefix=prefix, word=bare))
            continue
        terms.extend(Term(word=word) for word in _WORD.findall(token))
    return terms


class TitleWords:
    """The words of each picture's title prompt (``<series>/title/<address>.txt``), read
    once per picture the first time words are searched, and the pictures each word finds.

    Pictures are ``note``d as the index loads them; a rewritten or removed picture leaves
    stale entries behind, which ``find`` callers drop by checking the index."""

    def __init__(self, output: Path) -> None:
        self.output = output
        self._lock = threading.Lock()
        self._unread: list[Picture] = []
        self._pictures: dict[str, list[Picture]] = {}
        self._words: dict[Picture, set[str]] = {}  # each picture's words, by identity
        self._vocabulary: list[str] = []
        self._sorted = True

    def note(self, picture: Picture) -> None:
        """A picture was loaded: its title is read when words are next searched."""
        with self._lock:
            self._unread.append(picture)

    def find(self, prefix: str) -> list[Picture]:
        """The pictures with a title word starting with ``prefix`` (stale ones included)."""
        return [picture for holders in self._holders(prefix) for picture in holders]

    def count(self, prefix: str) -> int:
        """How many pictures (stale ones included) have a word starting with ``prefix``."""
        return sum(len(holders) for holders in self._holders(prefix))

    def has(self, picture: Picture, prefix: str) -> bool:
        """Whether a word of the picture's title starts with ``prefix``."""
        self._read_titles()
        with self._lock:
            return any(word.startswith(prefix) for word in self._words.get(picture, ()))

    def _holders(self, prefix: str) -> list[list[Picture]]:
        self._read_titles()
        with self._lock:
            if not self._sorted:
                self._vocabulary.sort()
                self._sorted = True
            at = bisect.bisect_left(self._vocabulary, prefix)
            found = []
            for word in self._vocabulary[at:]:
                if not word.startswith(prefix):
                    break
                found.append(self._pictures[word])
            return found

    def _read_titles(self) -> None:
        with self._lock:
            unread, self._unread = self._unread, []
        read = [(picture, self._words_of(picture)) for picture in unread]  # no lock held
        with self._lock:
            for picture, words in read:
                self._words[picture] = words
                for word in words:
                    holders = self._pictures.get(word)
                    if holders is None:
                        self._pictures[word] = holders = []
                        self._vocabulary.append(word)
                        self._sorted = False
                    holders.append(picture)

    def _words_of(self, picture: Picture) -> set[str]:
        path = self.output / picture.series / "title" / f"{picture.address}.txt"
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                title = handle.read(TITLE_BYTES)
        except OSError:
            return set()
        return set(_WORD.findall(title.lower()))


def find_pictures(files: FolderIndex[Picture], titles: TitleWords, visible: set[str],
                  query: PictureQuery) -> Found:
    """The pictures of ``query`` among the ``visible`` series. ``files`` keeps two orders:
    ``newest`` (by time) and ``address``."""
    chosen = visible if query.series is None else visible & query.series
    terms = search_terms(query.text)
    if terms:
        found = _matching(files, titles, chosen, terms)
        key, backwards = _SORT_KEYS[query.sort]
        found.sort(key=key, reverse=backwards)
        return Found(len(found), found[query.offset:query.offset + query.limit])
    total = files.count(chosen)
    if query.sort == SERIES:
        return Found(total, _by_series(files, chosen, query))
    order = ADDRESS if query.sort == ADDRESS else NEWEST
    return Found(total, _in_order(files, chosen, order, query.sort == NEWEST, query))


def _in_order(files: FolderIndex[Picture], chosen: set[str], order: str, descending: bool,
              query: PictureQuery) -> list[Picture]:
    """A page of one order: a slice when the chosen series are all there is or just one,
    else merged from each chosen series' list."""
    if files.series_names() <= chosen:
        return files.slice(order, query.offset, query.limit, descending=descending)
    if len(chosen) == 1:
        return files.slice(order, query.offset, query.limit, descending=descending,
                           series=next(iter(chosen)))
    return files.collect(order, query.limit, descending=descending, series=chosen,
                         skip=query.offset)


def _by_series(files: FolderIndex[Picture], chosen: set[str], query: PictureQuery
               ) -> list[Picture]:
    """A page of the series in name order, each newest first: whole series before the
    page are skipped by their counts."""
    skip, wanted = query.offset, query.limit
    page: list[Picture] = []
    for name in sorted(chosen):
        if len(page) == wanted:
            break
        size = files.count({name})
        if skip >= size:
            skip -= size
            continue
        page.extend(files.slice(NEWEST, skip, wanted - len(page), descending=True,
                                series=name))
        skip = 0
    return page


def _matching(files: FolderIndex[Picture], titles: TitleWords, chosen: set[str],
              terms: list[Term]) -> list[Picture]:
    """The current pictures of the chosen series that every term matches: the pictures of
    the rarest term, checked against the others (costs that term's matches)."""
    total = files.count()
    rarest = min(terms, key=lambda term: _estimate(titles, term, total))
    others = [term for term in terms if term is not rarest]
    return [picture for key, picture in _term_matches(files, titles, rarest).items()
            if key[0] in chosen and all(_accepts(titles, term, picture) for term in others)
            and files.get(*key) is picture]  # not replaced or removed since noted


def _estimate(titles: TitleWords, term: Term, total: int) -> float:
    """About how many pictures a term matches (an address digit divides by 16)."""
    found = titles.count(term.word) if term.word else 0
    if term.address_prefix:
        found += total / 16 ** (len(term.address_prefix) - 2)
    return found


def _accepts(titles: TitleWords, term: Term, picture: Picture) -> bool:
    if term.address_prefix and picture.address.startswith(term.address_prefix):
        return True
    return bool(term.word) and titles.has(picture, term.word)


def _term_matches(files: FolderIndex[Picture], titles: TitleWords, term: Term
                  ) -> dict[Key, Picture]:
    found: dict[Key, Picture] = {}
    if term.address_prefix:
        prefix = term.address_prefix
        _add(found, files.collect(ADDRESS, files.count(), after=(prefix,),
                                  stop=lambda p: not p.address.startswith(prefix)))
    if term.word:
        _add(found, titles.find(term.word))
    return found


def _add(found: dict[Key, Picture], pictures: Iterable[Picture]) -> None:
    for picture in pictures:
        current = found.get(picture.key)
        if current is None or current.mtime < picture.mtime:
            found[picture.key] = picture
