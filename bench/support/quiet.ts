import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/** Processes' CPU from /proc, to start a measurement once what it shares the machine with is quiet. */

export const TICKS_PER_SECOND = 100; // USER_HZ on Linux

interface ProcessStat {
  pid: number;
  parent: number;
  command: string;
  /** User + system CPU so far, in clock ticks. */
  ticks: number;
}

async function stat(pid: number): Promise<ProcessStat | undefined> {
  let text: string;
  try {
    text = await readFile(path.join('/proc', String(pid), 'stat'), 'utf8');
  } catch {
    return undefined; // exited meanwhile
  }
  // The command name is in parentheses and may hold spaces; the fields after it are counted from state.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return {
    pid,
    parent: Number(fields[1]),
    command: text.slice(text.indexOf('(') + 1, text.lastIndexOf(')')),
    ticks: Number(fields[11]) + Number(fields[12]),
  };
}

/** CPU time (user + system, in clock ticks) of a process so far; 0 once it has exited. */
export async function cpuTicks(pid: number): Promise<number> {
  return (await stat(pid))?.ticks ?? 0;
}

/**
 * The processes descended from this one's children whose command starts with `command` (themselves
 * included): e.g. every process of the Chromium that Playwright launched, renderers and GPU process too.
 */
export async function childTrees(command: string): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
  const all = (await Promise.all(pids.map(stat))).filter((s): s is ProcessStat => s !== undefined);
  const tree = new Set(
    all.filter((s) => s.parent === process.pid && s.command.startsWith(command)).map((s) => s.pid),
  );
  // Parents before children is not guaranteed by pid order: repeat until nothing is added.
  for (let size = -1; size !== tree.size;) {
    size = tree.size;
    for (const s of all) if (tree.has(s.parent)) tree.add(s.pid);
  }
  return [...tree];
}

/**
 * Waits until the processes `pids()` names use together less than a tenth of a core over half a
 * second, or `limitMs` has passed (then goes on: the measurement says under what load it ran). A
 * process that appears in between counts with all its CPU so far; one that exits, not at all.
 */
export async function quiet(pids: () => Promise<number[]>, limitMs = 30_000): Promise<void> {
  const sample = async (): Promise<Map<number, number>> => {
    const list = await pids();
    const ticks = await Promise.all(list.map(cpuTicks));
    return new Map(list.map((pid, i) => [pid, ticks[i]]));
  };
  const deadline = performance.now() + limitMs;
  for (let before = await sample(); performance.now() < deadline;) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const after = await sample();
    let used = 0;
    for (const [pid, ticks] of after) used += ticks - (before.get(pid) ?? 0);
    if (used / TICKS_PER_SECOND < 0.05) return;
    before = after;
  }
}
