import { z } from 'zod';

/**
 * A route: requests for `host` (optionally under `pathPrefix`) go to one of `upstreams`.
 * Owned by the proxy; the config model embeds it.
 */
export const RouteSchema = z.object({
  host: z.string().min(1),
  pathPrefix: z.string().startsWith('/').optional(),
  upstreams: z.array(z.string().min(1)).min(1),
});

export type RouteConfig = z.infer<typeof RouteSchema>;
