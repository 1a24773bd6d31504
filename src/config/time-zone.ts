/**
 * `date_time_zone: local` uses the process's time zone, which Node takes from `TZ` (else
 * /etc/localtime). A `TZ` that Node's ICU does not know (a typo, or a POSIX rule such as
 * `CET-1CEST`) does not fail: Node silently uses UTC, and every `date` would be written in UTC
 * while the operator expects local time. So such a `TZ` is refused at start.
 */

/** True when `name` is a time zone Intl knows (an IANA name such as Europe/Paris, or UTC). */
function isKnownZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/**
 * Why local time cannot be trusted with this `TZ` value (process.env.TZ), or undefined when it
 * can. `resolved` is the zone Node is using (Intl's resolvedOptions().timeZone).
 */
export function localTimeZoneProblem(tz: string | undefined, resolved: string | undefined = Intl.DateTimeFormat().resolvedOptions().timeZone): string | undefined {
  const name = (tz ?? '').replace(/^:/, '');
  if (name !== '' && !isKnownZone(name)) {
    return `"local", but the environment's TZ=${JSON.stringify(tz)} is not a time zone Node knows, so it would write UTC (use an IANA name such as Europe/Paris, or unset TZ to use /etc/localtime)`;
  }
  if (resolved === undefined || resolved === 'Etc/Unknown') {
    return `"local", but Node cannot tell the local time zone (TZ=${JSON.stringify(tz ?? '')}, /etc/localtime), so it would write UTC (set TZ to an IANA name such as Europe/Paris)`;
  }
  return undefined;
}
