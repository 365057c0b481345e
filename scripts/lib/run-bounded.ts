// Runs a recorder's main function with a bound on the whole run: past it the process exits (the exit hooks
// of the proxies and namespaces clean up), and a failure sets a non-zero exit code with its stack.
export function runBounded(name: string, main: () => Promise<unknown>, limitMs = 120_000): void {
  const watchdog = setTimeout(() => {
    console.error(`${name}: still running after ${limitMs} ms, giving up`);
    process.exit(2);
  }, limitMs);
  watchdog.unref();
  main().then(
    () => clearTimeout(watchdog),
    (error: unknown) => {
      console.error(error instanceof Error ? (error.stack ?? error.message) : error);
      process.exitCode = 1;
      clearTimeout(watchdog);
    },
  );
}
