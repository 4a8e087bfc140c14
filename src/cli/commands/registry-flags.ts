import type { RegistrySettings } from "../../oci/access.js";
import { parseOciReference, type OciReference } from "../../oci/reference.js";
import { isProcVisionError } from "../../errors/index.js";
import { UsageError } from "../../command-line/reporter.js";

/** The flags every registry command shares (publish, desired). */
export interface RegistryFlags {
  username?: string;
  passwordStdin?: boolean;
  plainHttp?: boolean;
}

/** Credentials from --username + --password-stdin (never a password on the command line), else the Docker config. */
export async function registryFlags(flags: RegistryFlags): Promise<RegistrySettings> {
  if (flags.passwordStdin && flags.username === undefined) throw new UsageError("--password-stdin needs --username");
  if (flags.username !== undefined && !flags.passwordStdin) {
    throw new UsageError("--username needs --password-stdin (a password never goes on the command line)", "e.g. cat token.txt | procvision-cli … --username ci --password-stdin");
  }
  const password = flags.passwordStdin ? (await readStdin()).replace(/\r?\n$/, "") : undefined;
  return {
    ...(flags.plainHttp ? { plainHttp: true } : {}),
    ...(flags.username !== undefined && password !== undefined ? { credentials: { username: flags.username, password } } : {}),
  };
}

/** A reference typed on the command line: a malformed one is the user's input (exit 2), with the parser's code and hint. */
export function ociArgument(text: string): OciReference {
  try {
    return parseOciReference(text);
  } catch (err) {
    if (isProcVisionError(err)) throw new UsageError(err.message, err.hint, err.code as UsageError["code"]);
    throw err;
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
