/**
 * A requirements file's text as pip reads it: UTF-8 (a BOM skipped), or UTF-16 when it starts with that BOM, which
 * is what `pip freeze > requirements.txt` writes in Windows PowerShell. Read as UTF-8, every line of such a file was
 * garbage and the package shipped without its dependencies.
 */
export function decodeRequirementsFile(bytes: Buffer): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return bytes.subarray(2).toString("utf16le");
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return Buffer.from(bytes.subarray(2)).swap16().toString("utf16le");
  const text = bytes.toString("utf8");
  return text.startsWith("\uFEFF") ? text.slice(1) : text;
}
