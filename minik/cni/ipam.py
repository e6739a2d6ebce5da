"""host-local IPAM: pod IPs from a range, one file per allocated IP, under an flock.

The layout follows the reference host-local plugin, so an operator can read it with `ls`/`cat`:
`<dataDir>/<network>/<ip>` holds "<containerID>\\n<ifname>\\n", `last_reserved_ip.0` the last
address handed out (allocation continues after it, round-robin, so a freed IP is not reused at once),
`lock` serialises every plugin process of the node.

Crash safety: a reservation is a file created whole with link(2) from a temporary file, so it
either exists with its owner inside or not at all; the link fails if the IP is taken, so no IP is
ever given twice even without the lock. Temporary files of a killed process are swept on the next
call. Releasing deletes the file; `gc` frees whatever no live attachment owns.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
from collections.abc import Iterator
from pathlib import Path

from minik.cni.config import IPAMConfig
from minik.cni.errors import IO_FAILURE, IPAM_EXHAUSTED, CNIError

LAST_RESERVED = "last_reserved_ip.0"
LOCK = "lock"
TMP_PREFIX = ".tmp-"

Attachment = tuple[str, str]  # (container id, ifname)


class HostLocal:
    def __init__(self, network: str, config: IPAMConfig) -> None:
        self.config = config
        self.dir = config.data_dir / network

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.dir / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as error:
            raise CNIError(IO_FAILURE, f"cannot open IPAM store {self.dir}", str(error)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._sweep_temporaries()
            yield
        finally:
            os.close(fd)  # closing drops the flock

    def _sweep_temporaries(self) -> None:
        for path in self.dir.glob(f"{TMP_PREFIX}*"):
            with contextlib.suppress(OSError):
                path.unlink()

    def candidates(self) -> Iterator[ipaddress.IPv4Address]:
        """Every address of the range once, starting after the last one handed out."""
        start, end = int(self.config.range_start), int(self.config.range_end)
        last = self._last_reserved()
        first = int(last) + 1 if last is not None and start <= int(last) < end else start
        for value in [*range(first, end + 1), *range(start, first)]:
            address = ipaddress.IPv4Address(value)
            if address != self.config.gateway:
                yield address

    def _last_reserved(self) -> ipaddress.IPv4Address | None:
        try:
            return ipaddress.IPv4Address((self.dir / LAST_RESERVED).read_text().strip())
        except (OSError, ValueError):
            return None

    def _write_atomically(self, path: Path, content: str, exclusive: bool) -> bool:
        """Create `path` whole (link) or replace it whole (rename); False if exclusive and it exists."""
        tmp = self.dir / f"{TMP_PREFIX}{path.name}-{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        try:
            if exclusive:
                os.link(tmp, path)
            else:
                os.replace(tmp, path)
        except FileExistsError:
            return False
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        dir_fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return True

    def allocations(self) -> dict[ipaddress.IPv4Address, Attachment]:
        """Every reserved IP and its owner ("", "") if the file cannot be read (still reserved)."""
        found: dict[ipaddress.IPv4Address, Attachment] = {}
        if not self.dir.is_dir():
            return found
        for path in self.dir.iterdir():
            try:
                address = ipaddress.IPv4Address(path.name)
            except ValueError:
                continue
            try:
                lines = path.read_text().splitlines()
            except OSError:
                lines = []
            found[address] = (lines[0].strip() if lines else "", lines[1].strip() if len(lines) > 1 else "")
        return found

    def free_count(self) -> int:
        taken = set(self.allocations())
        return sum(1 for a in self.candidates() if a not in taken)

    def get(self, container_id: str, ifname: str) -> ipaddress.IPv4Address | None:
        for address, owner in self.allocations().items():
            if owner == (container_id, ifname):
                return address
        return None

    def allocate(self, container_id: str, ifname: str) -> ipaddress.IPv4Address:
        """The attachment's IP: its existing reservation, else the next free one. Call under `locked()`."""
        existing = self.get(container_id, ifname)
        if existing is not None:
            return existing
        taken = set(self.allocations())
        try:
            for address in self.candidates():
                if address in taken:
                    continue
                if self._write_atomically(self.dir / str(address), f"{container_id}\n{ifname}\n", exclusive=True):
                    self._write_atomically(self.dir / LAST_RESERVED, str(address), exclusive=False)
                    return address
        except OSError as error:
            raise CNIError(IO_FAILURE, f"cannot write IPAM store {self.dir}", str(error)) from None
        size = sum(1 for _ in self.candidates())
        raise CNIError(IPAM_EXHAUSTED,
                       f"no IP addresses available in range {self.config.range_start}-{self.config.range_end}",
                       f"all {size} addresses of network {self.dir.name} are allocated")

    def release(self, container_id: str, ifname: str) -> list[ipaddress.IPv4Address]:
        """Free the attachment's IPs (none is fine: DEL is idempotent). Call under `locked()`."""
        freed = []
        for address, owner in self.allocations().items():
            if owner == (container_id, ifname):
                with contextlib.suppress(FileNotFoundError):
                    (self.dir / str(address)).unlink()
                freed.append(address)
        return freed

    def gc(self, valid: set[Attachment]) -> list[ipaddress.IPv4Address]:
        """Free every IP not owned by one of `valid` (after a crash the runtime knows what lives)."""
        freed = []
        for address, owner in self.allocations().items():
            if owner not in valid:
                with contextlib.suppress(FileNotFoundError):
                    (self.dir / str(address)).unlink()
                freed.append(address)
        return freed
