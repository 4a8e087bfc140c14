const IDENTIFIER = "[A-Za-z_][A-Za-z0-9_]*";

/** `module.path:ClassName` (a module without zod, so commands that only check an entry point stay light). */
export const ENTRY_POINT = new RegExp(`^${IDENTIFIER}(?:\\.${IDENTIFIER})*:${IDENTIFIER}$`);
