"""One file-system layer for the landing root, the warehouse and the model store: local disk, Hadoop's or fsspec's.

Local paths (`/abs/path`, `relative/path`, `file:/abs/path`) are served by the standard library:
fast, and with what only a local disk has (hard links, symlinks). Any other URI (`gs://`,
`hdfs://`) goes through Hadoop's FileSystem API of the Spark session, so the same connectors,
credentials and properties as Spark's own reads and writes apply (the Cloud Storage connector on
Dataproc and in the tests); without a Spark session (the query service, the read-only commands)
it goes through fsspec (gcsfs for `gs://`).

Paths are normalized in one place: `normalize` (what settings store: an absolute local path, or
the URI as given), `local_path` (the local path of a path or `file:` URI, None for another scheme)
and `qualify` (how Spark spells a file: `file:/abs` for a local one).
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def local_path(uri: str) -> str | None:
    """The absolute local path of a plain path or `file:` URI; None for any other scheme."""
    if uri.startswith("file:"):
        rest = uri[len("file:") :]
        if rest.startswith("//"):  # file://host/path or file:///path
            rest = rest[2:]
            rest = rest[rest.index("/") :] if not rest.startswith("/") and "/" in rest else rest
        return os.path.abspath(os.path.expanduser(rest))
    if _SCHEME.match(uri):
        return None
    return os.path.abspath(os.path.expanduser(uri))


def normalize(uri: str) -> str:
    """A plain local path made absolute (relative paths against the working directory); a URI
    (`gs://...`, `file:/...`) unchanged.

    Relative paths would otherwise mean different places to Spark's catalog, to executors started
    elsewhere and to a later command run from another directory.
    """
    if _SCHEME.match(uri) or uri.startswith("file:"):
        return uri
    return os.path.abspath(os.path.expanduser(uri))


def qualify(uri: str) -> str:
    """`uri` as Spark spells a file: `file:/abs/path` for a local path, the URI without a trailing slash otherwise."""
    local = local_path(uri)
    return f"file:{local}" if local is not None else uri.rstrip("/")


def join(base: str, *parts: str) -> str:
    """`base/part/...` with single slashes (works for paths and URIs)."""
    out = base.rstrip("/")
    for part in parts:
        out = f"{out}/{part.strip('/')}"
    return out


OBJECT_STORES = ("gs", "s3", "s3a", "abfs", "abfss", "wasb", "wasbs")  # no atomic rename


def scheme(uri: str) -> str:
    """`file` for a local path, else the URI's scheme (`gs`, `hdfs`, ...)."""
    return "file" if local_path(uri) is not None else uri.split("://", 1)[0].lower()


@dataclass(frozen=True)
class FileInfo:
    """A file found by `FileSystem.list_files`."""

    path: str  # qualified (`file:/abs/path`, `gs://bucket/path`)
    size: int
    mtime_ms: int
    problem: str | None = None  # why the listing could not take it as a file (a link out of the root, a loop)


class FileSystem(ABC):
    """What the project needs of a file system. Paths are plain local paths or URIs; missing paths are not errors
    where a caller can say what to do (`exists`, `list_names`, `delete` return quietly)."""

    @abstractmethod
    def exists(self, path: str) -> bool:
        """True when a file or folder is at `path` (a dangling local symlink counts)."""

    @abstractmethod
    def is_dir(self, path: str) -> bool:
        """True when `path` is a folder."""

    @abstractmethod
    def list_names(self, path: str) -> list[str]:
        """Names of the entries directly in folder `path`, sorted; empty when it is not a folder."""

    @abstractmethod
    def list_files(self, root: str) -> list[FileInfo]:
        """Every file under `root`, recursively, sorted by path; empty when `root` does not exist."""

    @abstractmethod
    def read_bytes(self, path: str, start: int = 0, length: int | None = None) -> bytes:
        """`length` bytes (all when None) from offset `start`; FileNotFoundError when absent."""

    def read_text(self, path: str) -> str:
        """The whole file as UTF-8 text; FileNotFoundError when absent."""
        return self.read_bytes(path).decode("utf-8")

    @abstractmethod
    def write_text(self, path: str, text: str) -> None:
        """Write (or replace) a small text file, creating its folder."""

    @abstractmethod
    def create_new(self, path: str, text: str) -> None:
        """Create `path` holding `text` atomically; FileExistsError when it exists (two writers: one wins)."""

    @abstractmethod
    def delete(self, path: str) -> None:
        """Remove a file or a folder tree; nothing when absent."""

    @abstractmethod
    def rename(self, src: str, dst: str) -> None:
        """Move `src` to `dst` (which must not exist); OSError when it cannot."""

    @abstractmethod
    def share_file(self, src: str, dst: str) -> None:
        """Make `dst` hold the bytes of file `src` without rewriting them where the file system can (hard link)."""

    def data_files(self, root: str, keep=lambda rel: True) -> list[str]:
        """Files under `root` as paths relative to it (`/`-separated), sorted, those `keep(rel)` accepts."""
        base = qualify(root).rstrip("/") + "/"
        out = []
        for info in self.list_files(root):
            rel = info.path[len(base) :] if info.path.startswith(base) else None
            if rel is not None and keep(rel):
                out.append(rel)
        return sorted(out)

    def total_bytes(self, root: str, keep=lambda rel: True) -> int:
        """Bytes of the files under `root` that `keep(rel)` accepts."""
        base = qualify(root).rstrip("/") + "/"
        return sum(i.size for i in self.list_files(root) if keep(i.path[len(base) :]))


class LocalFileSystem(FileSystem):
    """The local disk, through the standard library."""

    @staticmethod
    def _local(path: str) -> str:
        local = local_path(path)
        if local is None:
            raise ValueError(f"{path} is not a local path")
        return local

    def exists(self, path: str) -> bool:
        return os.path.lexists(self._local(path))

    def is_dir(self, path: str) -> bool:
        return os.path.isdir(self._local(path))

    def list_names(self, path: str) -> list[str]:
        local = self._local(path)
        return sorted(os.listdir(local)) if os.path.isdir(local) else []

    def list_files(self, root: str) -> list[FileInfo]:
        """Every file under `root`; symbolic links are followed while they stay inside `root`.

        A link that leads out of `root`, a link back to a folder already listed (a loop) and a
        broken link are returned with `problem` set instead of being followed.
        """
        base = self._local(root)
        if not os.path.isdir(base):
            return []
        real_base = os.path.realpath(base)
        out: list[FileInfo] = []
        seen: set[tuple[int, int]] = set()

        def inside(target: str) -> bool:
            return target == real_base or target.startswith(real_base.rstrip(os.sep) + os.sep)

        def walk(folder: str) -> None:
            st = os.stat(folder)
            seen.add((st.st_dev, st.st_ino))
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError as exc:  # unreadable folder: say so rather than stop
                out.append(FileInfo(f"file:{folder}", 0, 0, f"folder cannot be listed: {exc.strerror}"))
                return
            for entry in entries:
                full = entry.path
                try:
                    if entry.is_symlink():
                        target = os.path.realpath(full)
                        if not inside(target):
                            out.append(FileInfo(f"file:{full}", 0, 0, f"a link to {target}, outside the landing root"))
                            continue
                        if not os.path.exists(full):
                            out.append(FileInfo(f"file:{full}", 0, 0, f"a broken link (to {target})"))
                            continue
                    if entry.is_dir(follow_symlinks=True):
                        st = entry.stat(follow_symlinks=True)
                        if (st.st_dev, st.st_ino) in seen:
                            out.append(FileInfo(f"file:{full}", 0, 0, "a link loop: this folder is listed already"))
                            continue
                        walk(full)
                    else:
                        st = entry.stat(follow_symlinks=True)
                        out.append(FileInfo(f"file:{full}", st.st_size, st.st_mtime_ns // 1_000_000))
                except FileNotFoundError:  # removed while listing
                    continue

        walk(base)
        return sorted(out, key=lambda i: i.path)

    def read_bytes(self, path: str, start: int = 0, length: int | None = None) -> bytes:
        with open(self._local(path), "rb") as fh:
            fh.seek(start)
            return fh.read() if length is None else fh.read(length)

    def write_text(self, path: str, text: str) -> None:
        local = self._local(path)
        os.makedirs(os.path.dirname(local), exist_ok=True)
        tmp = f"{local}.tmp-{uuid.uuid4().hex}"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, local)

    def create_new(self, path: str, text: str) -> None:
        local = self._local(path)
        os.makedirs(os.path.dirname(local), exist_ok=True)
        tmp = f"{local}.tmp-{uuid.uuid4().hex}"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, local)  # fails when `path` exists: of two writers, one wins
        finally:
            os.unlink(tmp)

    def delete(self, path: str) -> None:
        local = self._local(path)
        if os.path.islink(local) or os.path.isfile(local):
            os.unlink(local)
        elif os.path.isdir(local):
            shutil.rmtree(local)

    def rename(self, src: str, dst: str) -> None:
        source, target = self._local(src), self._local(dst)
        if os.path.lexists(target):
            raise FileExistsError(target)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.rename(source, target)

    def share_file(self, src: str, dst: str) -> None:
        source, target = self._local(src), self._local(dst)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            os.link(source, target)
        except OSError:  # another device, or a file system without hard links
            shutil.copy2(source, target)


class HadoopFileSystem(FileSystem):
    """Any Hadoop file system (gs://, hdfs://, also file:) through the Spark session's JVM."""

    def __init__(self, spark: Any):
        self._jvm = spark._jvm
        self._conf = spark._jsc.hadoopConfiguration()

    def _path(self, path: str) -> Any:
        return self._jvm.org.apache.hadoop.fs.Path(qualify(path))

    def _fs(self, path: str) -> Any:
        return self._path(path).getFileSystem(self._conf)

    def exists(self, path: str) -> bool:
        return bool(self._fs(path).exists(self._path(path)))

    def is_dir(self, path: str) -> bool:
        fs, p = self._fs(path), self._path(path)
        return bool(fs.exists(p) and fs.getFileStatus(p).isDirectory())

    def list_names(self, path: str) -> list[str]:
        if not self.is_dir(path):
            return []
        return sorted(str(st.getPath().getName()) for st in self._fs(path).listStatus(self._path(path)))

    def list_files(self, root: str) -> list[FileInfo]:
        fs, p = self._fs(root), self._path(root)
        if not fs.exists(p):
            return []
        out = []
        it = fs.listFiles(p, True)
        while it.hasNext():
            st = it.next()
            out.append(FileInfo(str(st.getPath().toString()), int(st.getLen()), int(st.getModificationTime())))
        return sorted(out, key=lambda i: i.path)

    def read_bytes(self, path: str, start: int = 0, length: int | None = None) -> bytes:
        fs, p = self._fs(path), self._path(path)
        if not fs.exists(p):
            raise FileNotFoundError(path)
        if length is None:
            length = int(fs.getFileStatus(p).getLen()) - start
        stream = fs.open(p)
        try:
            stream.seek(start)
            return bytes(self._jvm.org.apache.commons.io.IOUtils.toByteArray(stream, int(length)))
        finally:
            stream.close()

    def _write(self, path: str, text: str, overwrite: bool) -> None:
        out = self._fs(path).create(self._path(path), overwrite)
        try:
            out.write(bytearray(text.encode("utf-8")))
        finally:
            out.close()

    def write_text(self, path: str, text: str) -> None:
        self._write(path, text, overwrite=True)

    def create_new(self, path: str, text: str) -> None:
        """Object stores (gs://) create with a does-not-exist precondition; others write a temporary file and
        rename it (a rename never replaces an existing file)."""
        if scheme(path) == "gs":
            if self.exists(path):
                raise FileExistsError(path)
            try:
                self._write(path, text, overwrite=False)  # the connector sends ifGenerationMatch=0
            except Exception as exc:  # py4j wraps FileAlreadyExistsException / a 412 precondition failure
                if "exist" in str(exc).lower() or "412" in str(exc) or "precondition" in str(exc).lower():
                    raise FileExistsError(path) from None
                raise
            return
        tmp = f"{path}.tmp-{uuid.uuid4().hex}"
        self._write(tmp, text, overwrite=False)
        if not self._fs(path).rename(self._path(tmp), self._path(path)):
            self.delete(tmp)
            raise FileExistsError(path)

    def delete(self, path: str) -> None:
        fs, p = self._fs(path), self._path(path)
        if fs.exists(p):
            fs.delete(p, True)

    def rename(self, src: str, dst: str) -> None:
        if self.exists(dst):
            raise FileExistsError(dst)
        parent = self._path(dst).getParent()
        self._fs(dst).mkdirs(parent)
        if not self._fs(src).rename(self._path(src), self._path(dst)):
            raise OSError(f"could not rename {src} to {dst}")

    def share_file(self, src: str, dst: str) -> None:
        copy = self._jvm.org.apache.hadoop.fs.FileUtil.copy
        if not copy(self._fs(src), self._path(src), self._fs(dst), self._path(dst), False, self._conf):
            raise OSError(f"could not copy {src} to {dst}")

    def copy_tree(self, src: str, dst: str) -> None:
        """Copy folder `src` to `dst` (which must not exist)."""
        copy = self._jvm.org.apache.hadoop.fs.FileUtil.copy
        if not copy(self._fs(src), self._path(src), self._fs(dst), self._path(dst), False, self._conf):
            raise OSError(f"could not copy {src} to {dst}")


class FsspecFileSystem(FileSystem):
    """Any fsspec file system (gs:// through gcsfs) without a Spark session or a JVM: what the query
    service and the read-only commands use for a remote warehouse.

    fsspec spells paths without their scheme (`bucket/key`); this class takes and returns full URIs.
    `options` go to `fsspec.filesystem` (e.g. `endpoint_url`, `token="anon"` for a local fake).
    """

    def __init__(self, protocol: str, **options: Any):
        self.protocol = protocol
        if protocol in ("gs", "gcs"):
            # gcsfs's core class: its default "experimental" one first asks the Storage Control API
            # for each bucket's type (a gRPC call needing another permission; a minute-long timeout
            # where that API is not reachable)
            from gcsfs.core import GCSFileSystem

            self.fs = GCSFileSystem(**options)
        else:
            import fsspec  # imported here: local warehouses never need it

            self.fs = fsspec.filesystem(protocol, **options)

    def _uri(self, path: str) -> str:
        return f"{self.protocol}://{path.split('://', 1)[-1]}"

    def exists(self, path: str) -> bool:
        return bool(self.fs.exists(path))

    def is_dir(self, path: str) -> bool:
        return bool(self.fs.isdir(path))

    def list_names(self, path: str) -> list[str]:
        if not self.fs.isdir(path):
            return []
        self.fs.invalidate_cache(path)  # another process (the pipeline) may have written since
        return sorted({p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(path, detail=False)})

    def list_files(self, root: str) -> list[FileInfo]:
        self.fs.invalidate_cache(root)
        if not self.fs.exists(root):
            return []
        out = []
        for path, info in self.fs.find(root, detail=True).items():
            mtime = info.get("mtime") or info.get("updated") or info.get("LastModified")
            millis = 0
            if hasattr(mtime, "timestamp"):
                millis = int(mtime.timestamp() * 1000)
            elif isinstance(mtime, int | float):
                millis = int(mtime * 1000)
            out.append(FileInfo(self._uri(path), int(info.get("size") or 0), millis))
        return sorted(out, key=lambda i: i.path)

    def read_bytes(self, path: str, start: int = 0, length: int | None = None) -> bytes:
        end = None if length is None else start + length
        try:
            return self.fs.cat_file(path, start=start or None, end=end)
        except FileNotFoundError:
            raise FileNotFoundError(path) from None

    def write_text(self, path: str, text: str) -> None:
        self.fs.pipe_file(path, text.encode("utf-8"))

    def create_new(self, path: str, text: str) -> None:
        """Object stores create with a does-not-exist precondition (gcsfs: `ifGenerationMatch=0`)."""
        if self.fs.exists(path):
            raise FileExistsError(path)
        self.fs.pipe_file(path, text.encode("utf-8"), mode="create")

    def delete(self, path: str) -> None:
        if self.fs.exists(path):
            self.fs.rm(path, recursive=True)

    def rename(self, src: str, dst: str) -> None:
        """A copy, then a delete (object stores have no rename; not atomic)."""
        if self.fs.exists(dst):
            raise FileExistsError(dst)
        self.fs.copy(src, dst, recursive=True)
        self.fs.rm(src, recursive=True)

    def share_file(self, src: str, dst: str) -> None:
        self.fs.copy(src, dst)


def file_system(uri: str, spark: Any = None) -> FileSystem:
    """The file system that serves `uri`: the local disk; for any other scheme Hadoop's through `spark`,
    or fsspec's (no JVM) when no session is given."""
    if local_path(uri) is not None:
        return LocalFileSystem()
    if spark is None:
        try:
            return FsspecFileSystem(scheme(uri))
        except (ImportError, ValueError) as exc:
            raise ValueError(f"{uri}: no fsspec file system for {scheme(uri)}:// ({exc}); install gcsfs") from None
    return HadoopFileSystem(spark)
