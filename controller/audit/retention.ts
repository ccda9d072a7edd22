/**
 * What the audit log's retention keeps, pure: client addresses cut to their network after
 * `audit_ip_days` (IPv4 to /24, IPv6 to /48: enough to tell a town hall's network from a stranger's, no
 * longer a person's device), and which day files are due. The file rewriting is auditLog.ts's.
 */

const DAY_MS = 86_400_000;

/**
 * An address with its host part zeroed: '192.0.2.57' → '192.0.2.0', '2001:db8:4:7::1' → '2001:db8:4::',
 * '::ffff:192.0.2.57' → '::ffff:192.0.2.0'. Anything that is not an IP address (an MQTT client id, a
 * channel, an address already cut) comes back unchanged.
 */
export function truncateAddress(from: string): string {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(from);
  if (v4)
    return v4.slice(1, 5).every((octet) => Number(octet) <= 255) ? `${v4[1]}.${v4[2]}.${v4[3]}.0` : from;
  const mapped = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i.exec(from);
  if (mapped) return `::ffff:${truncateAddress(mapped[1])}`;
  const groups = expandIpv6(from);
  if (!groups) return from;
  const network = groups.slice(0, 3).map((group) => group.replace(/^0+(?=.)/, '').toLowerCase());
  // Trailing zero groups of the network fold into '::' too, as the canonical form writes them.
  while (network.length > 0 && network.at(-1) === '0') network.pop();
  return `${network.join(':')}::`;
}

/** The 8 groups of an IPv6 address (zone id removed), or undefined when it is not one. */
function expandIpv6(text: string): string[] | undefined {
  const address = text.replace(/%.*$/, '');
  if (!/^[0-9a-f:]+$/i.test(address) || !address.includes(':')) return undefined;
  const halves = address.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] === '' ? [] : halves[0].split(':');
  const tail = halves.length === 2 && halves[1] !== '' ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  return groups.every((group) => /^[0-9a-f]{1,4}$/i.test(group)) ? groups : undefined;
}

/**
 * The UTC days ('YYYY-MM-DD') of audit files whose addresses are due to be cut at `now`: older than
 * `ipDays`, and after `doneThrough` (the last day already cut, '' when none).
 */
export function daysToTruncate(
  fileDays: readonly string[],
  doneThrough: string,
  now: number,
  ipDays: number,
): { days: string[]; through: string } {
  const through = new Date(now - ipDays * DAY_MS).toISOString().slice(0, 10);
  const days = [...new Set(fileDays)].filter((day) => day < through && day > doneThrough).sort();
  // 'through' is exclusive: the day at the cutoff still holds entries younger than ipDays.
  const last = previousDay(through);
  return { days, through: last > doneThrough ? last : doneThrough };
}

function previousDay(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) - DAY_MS).toISOString().slice(0, 10);
}
