"""Safe extraction of one image layer into its own directory (an overlay lowerdir).

A layer tar is untrusted input: it may try to write outside the target (absolute names, `..`,
writing through a symlink it planted earlier, hard links to host files) or to create device nodes.
Any of those aborts the whole layer with UnsafeLayerError; the caller extracts into a temp dir and
deletes it on error, so nothing is left behind.

Whiteouts are converted to overlayfs' own form so the kernel applies them at mount time:
`.wh.NAME` becomes a 0:0 character device NAME, `.wh..wh..opq` becomes the xattr
`trusted.overlay.opaque=y` on its directory.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import logging
import os
import posixpath
import shutil
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from minik.runtime.state import CRIError

log = logging.getLogger("minik.runtime")

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"


class UnsafeLayerError(CRIError):
    """The layer would write outside its directory or create something a container must not get."""


def safe_name(name: str) -> str:
    """The member name as a clean relative path, or UnsafeLayerError for absolute paths and `..`."""
    if "\0" in name:
        raise UnsafeLayerError(f"layer entry {name!r}: NUL byte in name")
    if name.startswith("/"):
        raise UnsafeLayerError(f"layer entry {name!r}: absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeLayerError(f"layer entry {name!r}: '..' escapes the layer")
    return "/".join(parts) or "."


def check_symlink(name: str, target: str) -> None:
    """Relative link targets must stay inside the root; absolute ones are rooted in the container."""
    if target.startswith("/"):
        return
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
    if resolved == ".." or resolved.startswith("../"):
        raise UnsafeLayerError(f"layer entry {name!r}: symlink to {target!r} points outside the image")


@dataclass(frozen=True)
class Entry:
    """What a tar member means for the layer: a plain entry, a whiteout of `path`, or an opaque dir."""

    kind: str  # "entry" | "whiteout" | "opaque"
    path: str


def classify(name: str) -> Entry:
    """Map a (safe) member name to its whiteout meaning (OCI image spec, layer changesets)."""
    base = posixpath.basename(name)
    parent = posixpath.dirname(name)
    if base == OPAQUE_MARKER:
        return Entry("opaque", parent or ".")
    if base.startswith(WHITEOUT_PREFIX):
        hidden = base[len(WHITEOUT_PREFIX) :]
        if not hidden or hidden in (".", ".."):
            raise UnsafeLayerError(f"layer entry {name!r}: malformed whiteout")
        return Entry("whiteout", posixpath.join(parent, hidden) if parent else hidden)
    return Entry("entry", name)


class _HashingReader:
    """A read-only stream that hashes what passes through (the diff_id of an uncompressed layer)."""

    def __init__(self, inner: IO[bytes]) -> None:
        self.inner = inner
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self.inner.read(n)
        self.digest.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


def open_uncompressed(raw: IO[bytes]) -> IO[bytes]:
    """Peek at the magic bytes: gzip layers are decompressed, plain tars pass through."""
    head = raw.read(2)
    raw.seek(0)
    if head == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if head == b"\x28\xb5":
        raise CRIError("zstd-compressed layers are not supported")
    return raw


class _Extractor:
    def __init__(self, dest: Path) -> None:
        self.dest = dest
        self.dir_times: list[tuple[Path, int]] = []
        self.size = 0

    def _parent(self, rel: str) -> Path:
        """The parent directory of `rel`, created if missing, never reached through a symlink."""
        current = self.dest
        parent = posixpath.dirname(rel)
        if not parent:
            return current
        for part in parent.split("/"):
            current = current / part
            try:
                st = os.lstat(current)
            except FileNotFoundError:
                os.mkdir(current, 0o755)
                continue
            if stat.S_ISLNK(st.st_mode):
                raise UnsafeLayerError(f"layer entry {rel!r}: goes through the symlink {part!r}")
            if not stat.S_ISDIR(st.st_mode):
                raise UnsafeLayerError(f"layer entry {rel!r}: {part!r} is not a directory")
        return current

    def _clear(self, path: Path, keep_dir: bool) -> None:
        """Make room for a new entry: a later entry with the same name replaces the earlier one."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            if keep_dir:
                return
            shutil.rmtree(path)
        else:
            os.unlink(path)

    def add(self, tf: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        rel = safe_name(member.name)
        if rel == ".":
            if member.isdir():
                self._meta(self.dest, member)
            return
        entry = classify(rel)
        if entry.kind == "opaque":
            target = self.dest if entry.path == "." else self._parent(entry.path + "/x")
            os.setxattr(target, OPAQUE_XATTR, b"y")
            return
        if entry.kind == "whiteout":
            parent = self._parent(entry.path)
            path = parent / posixpath.basename(entry.path)
            self._clear(path, keep_dir=False)
            os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(0, 0))
            return
        parent = self._parent(rel)
        path = parent / posixpath.basename(rel)
        if member.isdir():
            self._clear(path, keep_dir=True)
            if not path.is_dir():
                os.mkdir(path, 0o755)
            self._meta(path, member)
            return
        if member.ischr() or member.isblk():
            raise UnsafeLayerError(f"layer entry {rel!r}: device nodes are not allowed in images")
        if member.issym():
            check_symlink(rel, member.linkname)
            self._clear(path, keep_dir=False)
            os.symlink(member.linkname, path)
            self._meta(path, member)
            return
        if member.islnk():
            source_rel = safe_name(member.linkname)
            source = self._parent(source_rel) / posixpath.basename(source_rel)
            try:
                st = os.lstat(source)
            except FileNotFoundError:
                raise UnsafeLayerError(
                    f"layer entry {rel!r}: hard link to {member.linkname!r}, which is not in this layer"
                ) from None
            if stat.S_ISDIR(st.st_mode):
                raise UnsafeLayerError(f"layer entry {rel!r}: hard link to a directory")
            self._clear(path, keep_dir=False)
            os.link(source, path, follow_symlinks=False)
            return
        if member.isfifo():
            self._clear(path, keep_dir=False)
            os.mkfifo(path, 0o600)
            self._meta(path, member)
            return
        if not member.isreg():
            raise UnsafeLayerError(f"layer entry {rel!r}: unsupported tar entry type {member.type!r}")
        self._clear(path, keep_dir=False)
        source_stream = tf.extractfile(member)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as out:
            if source_stream is not None:
                shutil.copyfileobj(source_stream, out, 1 << 20)
        self.size += member.size
        self._meta(path, member)

    def _meta(self, path: Path, member: tarfile.TarInfo) -> None:
        """Owner, mode (setuid bits after chown, which clears them), xattrs and mtime as recorded."""
        try:
            os.lchown(path, member.uid, member.gid)
        except PermissionError:
            if os.geteuid() == 0:
                raise  # only an unprivileged extraction (unit tests, tools) may drop ownership
        if not member.issym():
            os.chmod(path, member.mode & 0o7777)
        for key, value in member.pax_headers.items():
            if key.startswith("SCHILY.xattr."):
                try:
                    os.setxattr(path, key[13:], value.encode("utf-8", "surrogateescape"), follow_symlinks=False)
                except OSError as error:
                    log.warning("xattr %s on %s not kept: %s", key[13:], path, error)
        mtime_ns = int(member.mtime * 1_000_000_000)
        if member.isdir():
            self.dir_times.append((path, mtime_ns))
        else:
            os.utime(path, ns=(mtime_ns, mtime_ns), follow_symlinks=False)

    def finish(self) -> None:
        for path, mtime_ns in reversed(self.dir_times):
            with contextlib.suppress(OSError):
                os.utime(path, ns=(mtime_ns, mtime_ns), follow_symlinks=False)


@dataclass(frozen=True)
class ExtractResult:
    diff_id: str  # sha256 of the uncompressed tar: what the image config lists
    size: int  # bytes of regular files


def extract_layer(raw: IO[bytes], dest: Path) -> ExtractResult:
    """Extract a (possibly gzip-compressed) layer tar from a seekable stream into the empty dir `dest`."""
    reader = _HashingReader(open_uncompressed(raw))
    extractor = _Extractor(dest)
    try:
        with tarfile.open(fileobj=reader, mode="r|") as tf:  # type: ignore[call-overload]
            for member in tf:
                extractor.add(tf, member)
    except tarfile.TarError as error:
        raise CRIError(f"layer is not a valid tar archive: {error}") from error
    except (OSError, EOFError) as error:
        raise CRIError(f"layer extraction failed: {error}") from error
    reader.drain()
    extractor.finish()
    return ExtractResult(diff_id="sha256:" + reader.digest.hexdigest(), size=extractor.size)
