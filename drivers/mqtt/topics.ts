/**
 * MQTT topic names and filters, checked and matched without allocating: the matcher runs for every
 * incoming message on a wildcard subscription (presence detections at 1,000/s).
 */

const SLASH = 0x2f;
const PLUS = 0x2b;
const HASH = 0x23;
const DOLLAR = 0x24;
const SHARE_PREFIX = '$share/';

/** Why a topic name cannot be published to, or undefined when it can. */
export function topicNameProblem(topic: string): string | undefined {
  if (topic.length === 0) return 'is empty';
  if (topic.includes('+') || topic.includes('#'))
    return "contains a wildcard ('+' or '#'); publish to a concrete topic";
  if (topic.includes('\u0000')) return 'contains a NUL character';
  if (tooLong(topic)) return 'is longer than 65,535 bytes';
  return undefined;
}

/** Why a subscription filter is invalid, or undefined when it is valid. Accepts `$share/<group>/<filter>`. */
export function topicFilterProblem(filter: string): string | undefined {
  if (filter.length === 0) return 'is empty';
  if (filter.includes('\u0000')) return 'contains a NUL character';
  if (tooLong(filter)) return 'is longer than 65,535 bytes';
  if (filter.startsWith(SHARE_PREFIX)) {
    const rest = filter.slice(SHARE_PREFIX.length);
    const slash = rest.indexOf('/');
    const group = slash < 0 ? rest : rest.slice(0, slash);
    if (group.length === 0 || group.includes('+') || group.includes('#'))
      return "has a shared-subscription group that is empty or holds a wildcard ('$share/<group>/<filter>')";
    if (slash < 0 || slash === rest.length - 1) return "has no filter after '$share/<group>/'";
    return topicFilterProblem(rest.slice(slash + 1));
  }
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i];
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1))
      return "has '#' that is not alone in the last level";
    if (level.includes('+') && level !== '+') return "has '+' that does not fill a whole level";
  }
  return undefined;
}

/** MQTT strings are at most 65,535 UTF-8 bytes; a UTF-16 unit is at most 3 of them, so short strings skip the count. */
function tooLong(value: string): boolean {
  return value.length > 21_845 && Buffer.byteLength(value) > 65_535;
}

/** The part of a filter that topics are matched against: `$share/<group>/` removed. */
export function matchPattern(filter: string): string {
  if (!filter.startsWith(SHARE_PREFIX)) return filter;
  const slash = filter.indexOf('/', SHARE_PREFIX.length);
  return filter.slice(slash + 1);
}

export function hasWildcard(pattern: string): boolean {
  return pattern.includes('+') || pattern.includes('#');
}

/**
 * Whether a topic name matches a (valid, non-shared) filter, after MQTT 3.1.1 §4.7: '+' matches one
 * level, possibly empty; '#' matches the parent level and everything below it; a filter starting
 * with a wildcard does not match topics starting with '$'.
 */
export function topicMatches(filter: string, topic: string): boolean {
  const first = filter.charCodeAt(0);
  if (topic.charCodeAt(0) === DOLLAR && (first === PLUS || first === HASH)) return false;
  const filterLength = filter.length;
  const topicLength = topic.length;
  let f = 0;
  let t = 0;
  while (f < filterLength) {
    const c = filter.charCodeAt(f);
    if (c === HASH) return true;
    if (c === PLUS) {
      while (t < topicLength && topic.charCodeAt(t) !== SLASH) t++;
      f++;
      continue;
    }
    if (t < topicLength && topic.charCodeAt(t) === c) {
      f++;
      t++;
      continue;
    }
    // 'a/#' also matches 'a': the topic ends where the filter's last '/#' begins.
    return t === topicLength && c === SLASH && f + 2 === filterLength && filter.charCodeAt(f + 1) === HASH;
  }
  return t === topicLength;
}
