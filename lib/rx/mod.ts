/**
 * Channel behaviours with the semantics of Erlang's `ssh_server_channel` /
 * `ssh_client_channel`: {@link runBehaviour} runs an `init`, `handleMsg`,
 * `terminate` state machine over any observable of events, one event at a
 * time, and {@link serveChannel} runs one over an SSH channel, with its data,
 * requests, EOF and close as events.
 *
 * @example
 * ```ts
 * import { endWith, map, of } from "rxjs";
 * import { type Behaviour, runBehaviour } from "./mod.ts";
 * const sum: Behaviour<number, number, number, never, undefined> = {
 *   init: (start) => ({ state: start }),
 *   handleSshMsg: (n, total) => ({ state: total + n }),
 *   terminate: (_reason, total) => console.log("total", total), // total 6
 * };
 * of(1, 2, 3).pipe(
 *   map((event) => ({ kind: "ssh" as const, event })),
 *   endWith({ kind: "closed" as const }),
 *   runBehaviour(sum, 0, { context: undefined }),
 * ).subscribe();
 * ```
 *
 * @module
 */
export {
  type Behaviour,
  type BehaviourInput,
  type ConnectionLost,
  type HandlerResult,
  type InitResult,
  isConnectionLost,
  type Lifecycle,
  runBehaviour,
  type RunBehaviourOptions,
  type SystemMessage,
  type TerminateReason,
} from "./behaviour.ts";
export {
  channelBehaviour,
  type ChannelBehaviourOptions,
  type ChannelBehaviourSpec,
  type ChannelContext,
  type ChannelEvent,
  type DecodedRequest,
  serveChannel,
} from "./channel_behaviour.ts";
// What this layer's API mentions from the layers below.
export type {
  Channel,
  ChannelHost,
  ChannelInit,
  ChannelOptions,
  ChannelPort,
  IncomingChannelRequest,
} from "../connection/channel.ts";
export type { ExitStatus, PtyRequest } from "../connection/session.ts";
export type { Payload } from "../transport/packets.ts";
