// An unhandled rejection anywhere in a test file fails that file instead of passing silently.
const unhandled: unknown[] = [];
const onRejection = (reason: unknown): void => {
  unhandled.push(reason);
};

beforeAll(() => {
  process.on('unhandledRejection', onRejection);
});

afterAll(() => {
  process.off('unhandledRejection', onRejection);
  if (unhandled.length > 0) {
    throw new Error(`unhandled rejections: ${unhandled.map((r) => String(r)).join('; ')}`);
  }
});
