import type { SessionRecord as StoredSession } from "../store/repository.js";
import type { SessionRecord } from "../supervisor/sessions.js";

/** A session as the library and the API show it: the stored record, its id named `session_id`. */
export type SessionView = Omit<StoredSession, "id"> & { session_id: string };

export function sessionView(s: SessionRecord): SessionView {
  return {
    session_id: s.id, pid: s.pid, name: s.name, version: s.version, context: s.context, state: s.state,
    created_at: new Date(s.created_at).toISOString(), last_used_at: new Date(s.last_used_at).toISOString(),
  };
}
