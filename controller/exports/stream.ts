/**
 * A text stream over items read from InfluxDB, started: the first item is awaited here, so that a
 * failure to read (InfluxDB down, a refused query) is an error the caller can still answer with a
 * status, instead of a file cut after its header. The rest is pulled only as the text is consumed,
 * and stopping the text stops the reading.
 */
export async function startText<T>(
  items: AsyncIterable<T>,
  text: { head: string; item(item: T): string; tail: string },
): Promise<AsyncIterable<string>> {
  const iterator = items[Symbol.asyncIterator]();
  const first = await iterator.next();
  return (async function* () {
    try {
      yield text.head;
      for (let next = first; !next.done; next = await iterator.next()) yield text.item(next.value);
      yield text.tail;
    } finally {
      await iterator.return?.(undefined);
    }
  })();
}
