/**
 * Cloudflare's published edge ranges: a name whose A/AAAA records fall here is proxied
 * ("orange cloud"), so the CA's http-01 and tls-alpn-01 connections end at Cloudflare, not
 * at this host. Source: https://www.cloudflare.com/ips-v4 and https://www.cloudflare.com/ips-v6
 * (also https://api.cloudflare.com/client/v4/ips). The list has been stable since 2023;
 * transcribed 2026-11-28. Refresh it from those URLs when Cloudflare announces a change.
 */
export const CLOUDFLARE_SOURCE = 'https://www.cloudflare.com/ips/';
export const CLOUDFLARE_LIST_DATE = '2026-11-28';

export const CLOUDFLARE_IPV4: readonly string[] = [
  '173.245.48.0/20',
  '103.21.244.0/22',
  '103.22.200.0/22',
  '103.31.4.0/22',
  '141.101.64.0/18',
  '108.162.192.0/18',
  '190.93.240.0/20',
  '188.114.96.0/20',
  '197.234.240.0/22',
  '198.41.128.0/17',
  '162.158.0.0/15',
  '104.16.0.0/13',
  '104.24.0.0/14',
  '172.64.0.0/13',
  '131.0.72.0/22',
];

export const CLOUDFLARE_IPV6: readonly string[] = [
  '2400:cb00::/32',
  '2606:4700::/32',
  '2803:f800::/32',
  '2405:b500::/32',
  '2405:8100::/32',
  '2a06:98c0::/29',
  '2c0f:f248::/32',
];
