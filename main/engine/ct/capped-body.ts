/**
 * Reads a fetch response's body, at most `limit` bytes of it. A log or list server can send
 * any amount; buffering it whole could exhaust memory (and past 512 MB even decoding it throws
 * a plain RangeError). Past the limit the stream is cancelled, which cuts the connection, and
 * the answer is null so the caller can say which server misbehaved.
 */
export async function readCappedBody(res: Response, limit: number): Promise<Buffer | null> {
  if (!res.body) return Buffer.alloc(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks, size);
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
}

/** "64 KB", "8 MB": a limit in words for error messages. */
export function byteLimitText(limit: number): string {
  return limit >= 1024 * 1024 ? `${limit / (1024 * 1024)} MB` : `${limit / 1024} KB`;
}
