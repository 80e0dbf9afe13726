/// <reference path="./lua.d.ts" />
/**
 * The Lua scripts, registered as ioredis commands (EVALSHA, falling back to EVAL
 * after a Redis restart flushed the script cache).
 */
import type { Redis } from 'ioredis';
import claim from './lua/claim.lua';
import createRecords from './lua/create-records.lua';
import deleteRecords from './lua/delete-records.lua';
import finish from './lua/finish.lua';
import heartbeat from './lua/heartbeat.lua';
import listOpen from './lua/list-open.lua';
import liveWorkers from './lua/live-workers.lua';
import lock from './lua/lock.lua';
import record from './lua/record.lua';
import swarmAdd from './lua/swarm-add.lua';
import swarmClaim from './lua/swarm-claim.lua';
import swarmCounts from './lua/swarm-counts.lua';
import swarmDrain from './lua/swarm-drain.lua';
import swarmEnd from './lua/swarm-end.lua';
import swarmFinish from './lua/swarm-finish.lua';
import swarmReassign from './lua/swarm-reassign.lua';
import swarmReset from './lua/swarm-reset.lua';
import swarmSetPriority from './lua/swarm-set-priority.lua';
import swarmState from './lua/swarm-state.lua';
import unlock from './lua/unlock.lua';
import update from './lua/update.lua';
import updateRecord from './lua/update-record.lua';

type Reply = unknown;
type Command = (...args: (string | number)[]) => Promise<Reply>;

export interface Scripts {
  mfCreateRecords: Command;
  mfUpdateRecord: Command;
  mfDeleteRecords: Command;
  mfSwarmAdd: Command;
  mfSwarmClaim: Command;
  mfSwarmFinish: Command;
  mfSwarmEnd: Command;
  mfSwarmCounts: Command;
  mfSwarmReassign: Command;
  mfSwarmDrain: Command;
  mfSwarmReset: Command;
  mfSwarmSetPriority: Command;
  mfLock: Command;
  mfUnlock: Command;
  mfHeartbeat: Command;
  mfLiveWorkers: Command;
  mfListOpen: Command;
}

const SOURCES: Record<keyof Scripts, string> = {
  mfCreateRecords: `${record}\n${createRecords}`,
  mfUpdateRecord: `${record}\n${update}\n${updateRecord}`,
  mfDeleteRecords: deleteRecords,
  mfSwarmAdd: `${swarmState}\n${swarmAdd}`,
  mfSwarmClaim: `${record}\n${swarmState}\n${claim}\n${swarmClaim}`,
  mfSwarmFinish: `${record}\n${swarmState}\n${claim}\n${finish}\n${swarmFinish}`,
  mfSwarmEnd: `${record}\n${update}\n${swarmState}\n${claim}\n${finish}\n${swarmEnd}`,
  mfSwarmCounts: `${swarmState}\n${swarmCounts}`,
  mfSwarmReassign: swarmReassign,
  mfSwarmDrain: swarmDrain,
  mfSwarmReset: `${swarmState}\n${swarmReset}`,
  mfSwarmSetPriority: `${swarmState}\n${swarmSetPriority}`,
  mfLock: `${record}\n${lock}`,
  mfUnlock: `${record}\n${unlock}`,
  mfHeartbeat: heartbeat,
  mfLiveWorkers: liveWorkers,
  mfListOpen: listOpen,
};

/** Registers the scripts on a client (once per client); keys are passed as `numkeys, ...keys, ...args`. */
export function withScripts(redis: Redis): Redis & Scripts {
  const client = redis as Redis & Scripts & { __mageflowScripts?: true };
  if (!client.__mageflowScripts) {
    for (const [name, lua] of Object.entries(SOURCES)) client.defineCommand(name, { lua });
    Object.defineProperty(client, '__mageflowScripts', { value: true });
  }
  return client;
}
