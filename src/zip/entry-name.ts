/**
 * Why a zip entry name cannot be extracted safely on Linux or Windows, or null. Names use "/" and directory names
 * end with one. Shared by the packer (refuse to write what the runner would refuse to open) and the reader.
 * `colonAllowed`: the name is only ever written on a POSIX file system, where `:` is an ordinary character (a wheel
 * installed on Linux, as pip installs it); a package must extract on Windows too.
 */
export function entryNameProblem(name: string, colonAllowed = false): string | null {
  if (name === "") return "empty name";
  if (/[\u0000-\u001f\u007f]/.test(name)) return "control character (NUL, newline, …) in the name";
  if (name.includes("\\")) return "backslash in the name (a Windows path separator)";
  if (name.startsWith("/")) return "absolute path";
  if (!colonAllowed && /^[A-Za-z]:/.test(name)) return "drive letter";
  if (!colonAllowed && name.includes(":")) return "colon in the name (Windows drive or stream syntax)";
  const segments = (name.endsWith("/") ? name.slice(0, -1) : name).split("/");
  if (segments.includes("..")) return "'..' segment (path traversal)";
  if (segments.includes(".")) return "'.' segment";
  if (segments.includes("")) return "empty path segment";
  return null;
}

/** Key under which names collide on case-insensitive file systems (Windows, macOS). */
export function foldCase(name: string): string {
  return name.normalize("NFC").toLowerCase();
}
