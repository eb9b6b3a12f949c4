"""Progress of long work. On a terminal, a tqdm bar; elsewhere (a pipe, a log file, a service),
a line on the `rag.progress` logger at INFO now and then and when a stage ends, so a build that
takes minutes is not minutes of silence. The CLI shows these lines; a library user sees them
only when they turn that logger on."""

from __future__ import annotations

import logging
import time
from types import TracebackType
from typing import Any

logger = logging.getLogger(__name__)

LOG_EVERY_SECONDS = 15.0  # often enough to show a build is alive, rare enough to read
QUIET_UNDER_SECONDS = 1.0  # a stage done sooner gets no closing line (an unchanged build stays quiet)


class Progress:
    """Counts `total` units of one stage: `with Progress("embedding chunks", n, bar=tty) as p: p.update(k)`."""

    def __init__(self, desc: str, total: int, *, bar: bool, unit: str = "item", every: float = LOG_EVERY_SECONDS):
        self.desc = desc
        self.total = total
        self.unit = unit
        self.every = every
        self.done = 0
        self._started = time.monotonic()
        self._logged = self._started
        self._bar: Any = None
        if bar and total:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit)

    def update(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.monotonic()
        if now - self._logged >= self.every and self.done < self.total:
            self._logged = now
            self._log()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self.total and time.monotonic() - self._started >= QUIET_UNDER_SECONDS:
            self._log()

    def _log(self) -> None:
        share = f" ({100 * self.done // self.total}%)" if self.total else ""
        elapsed = time.monotonic() - self._started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = f", about {(self.total - self.done) / rate:.0f} s left" if rate and self.done < self.total else ""
        logger.info(
            "%s: %s/%s %ss%s, %.0f s, %.1f %ss/s%s",
            self.desc,
            f"{self.done:,}",
            f"{self.total:,}",
            self.unit,
            share,
            elapsed,
            rate,
            self.unit,
            eta,
        )

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            self.close()
        elif self._bar is not None:
            self._bar.close()
