/**
 * The sentences pre-flight checks and the ACME failure diagnosis share, so a finding reads
 * the same whether Homeport predicted it or the CA reported it. Each returns what was found
 * (`summary`) and what to do (`fix`).
 */
export interface Finding {
  summary: string;
  fix: string;
}

export function formatDuration(ms: number): string {
  const min = Math.max(1, Math.ceil(ms / 60_000));
  const d = Math.floor(min / 1440);
  const h = Math.floor((min % 1440) / 60);
  const m = min % 60;
  const parts = [d ? `${d} d` : '', h ? `${h} h` : '', m ? `${m} min` : ''].filter(Boolean);
  return parts.slice(0, 2).join(' ');
}

/** The classic first-certificate failure: an IPv6 address that leads somewhere else. */
export function aaaaNotThisHost(name: string, address: string, ca: string, hostIpv6: string[]): Finding {
  return {
    summary: `${name} has an AAAA record ${address} that is not this host: ${ca} prefers IPv6 and will fail.`,
    fix: hostIpv6.length
      ? `Remove the AAAA record or point it at this host's IPv6 address (${hostIpv6.join(', ')}).`
      : "Remove the AAAA record or point it at this host's IPv6 address (this host has no public IPv6 address, so remove it).",
  };
}

export function aNotThisHost(name: string, address: string, hostIpv4: string[]): Finding {
  return {
    summary: `${name} has an A record ${address} that is not this host, so the CA will connect to another machine.`,
    fix: hostIpv4.length
      ? `Point the A record of ${name} at this host's public IPv4 address ${hostIpv4.join(', ')}.`
      : `Point the A record of ${name} at this host's public IPv4 address.`,
  };
}

export function nameDoesNotExist(name: string): Finding {
  return {
    summary: `The name ${name} does not exist in DNS (NXDOMAIN).`,
    fix: `Create an A (and if you use IPv6, AAAA) record for ${name} pointing to this host, then check again.`,
  };
}

export function dnsServfail(name: string, server: string): Finding {
  return {
    summary: `The DNS lookup of ${name} fails with SERVFAIL at ${server}; the CA's lookup will fail the same way. This is most often broken DNSSEC (a DS record at the registrar that no longer matches the zone's keys) or name servers that do not answer.`,
    fix: "Check the domain's DNSSEC settings at the registrar and that every name server of the domain answers (a DNSSEC analyzer such as dnsviz.net shows which step breaks).",
  };
}

export function caaForbids(name: string, ca: string, owner: string, allowed: string[], identity: string, wildcard: boolean): Finding {
  const tag = wildcard ? 'issuewild' : 'issue';
  return {
    summary: `The CAA records at ${owner} allow only ${allowed.length ? allowed.join(', ') : 'no CA at all'} to issue for ${name}, not ${ca} (${identity}).`,
    fix: `Add a CAA record at ${owner}: 0 ${tag} "${identity}", or choose a CA your CAA records allow.`,
  };
}
