/**
 * `connect()`'s `agent` option: which agent authentication uses (by
 * default the one at `SSH_AUTH_SOCK`, as OpenSSH and AsyncSSH do).
 *
 * @module
 */
import process from "node:process";
import type { Agent } from "../auth/client.ts";
import { connectAgent } from "./client.ts";

/**
 * An agent for one authentication, and how to let go of it.
 *
 * @example
 * ```ts
 * import type { OpenedAgent } from "./option.ts";
 * const none: OpenedAgent = { agent: undefined, close: () => {} };
 * ```
 */
export interface OpenedAgent {
  /** The agent, or undefined when there is none to use. */
  agent: Agent | undefined;
  /** Closes the socket this opened (an `Agent` given by the caller is left open). */
  close(): void;
}

/**
 * Opens the agent `option` names: `false` none; `true` or undefined the
 * socket at `SSH_AUTH_SOCK`; a path that socket; an `Agent` itself. A
 * socket that is missing, refuses, or fails to list its identities counts
 * as no agent (nothing is thrown). `filter` picks the identities offered.
 *
 * @example
 * ```ts
 * import { openAgentOption } from "./option.ts";
 * async function count() {
 *   const { agent, close } = await openAgentOption(undefined);
 *   const n = agent ? (await agent.identities()).length : 0;
 *   close();
 *   return n;
 * }
 * ```
 */
export async function openAgentOption(
  option: boolean | string | Agent | undefined,
  options: { filter?: (identity: { blob: Uint8Array; type: string }) => boolean } = {},
): Promise<OpenedAgent> {
  const { filter } = options;
  if (option === false) return { agent: undefined, close: () => {} };
  if (typeof option === "object") {
    return { agent: filter ? filtered(option, filter, false) : option, close: () => {} };
  }
  const path = typeof option === "string" ? option : process.env.SSH_AUTH_SOCK;
  if (!path) return { agent: undefined, close: () => {} };
  try {
    const client = await connectAgent(path);
    return { agent: filtered(client, filter ?? (() => true), true), close: () => client.close() };
  } catch {
    return { agent: undefined, close: () => {} }; // no agent there: as ssh, go on without one
  }
}

function filtered(
  agent: Agent,
  keep: (identity: { blob: Uint8Array; type: string }) => boolean,
  quiet: boolean,
): Agent {
  return {
    identities: async () => {
      try {
        return (await agent.identities()).filter(keep);
      } catch (e) {
        if (quiet) return [];
        throw e;
      }
    },
    sign: (blob, data, o) => agent.sign(blob, data, o),
  };
}
