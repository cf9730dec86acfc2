namespace IngestService.LoadGen;

/// <summary>Simulated sensors against the ingest endpoint, and an end-to-end verifier (CONTRACT.md).</summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Any(a => a is "--help" or "-h" or "-?"))
        {
            await Console.Out.WriteLineAsync(LoadGenOptions.Usage);
            return LoadGenCommand.Success;
        }

        if (!LoadGenOptions.TryParse(args, out var options, out var error))
        {
            await Console.Error.WriteLineAsync($"error: {error}");
            await Console.Error.WriteLineAsync(LoadGenOptions.Usage);
            return LoadGenCommand.BadArguments;
        }

        // First Ctrl+C: stop starting events and report; the run's own grace then bounds the wait.
        using var interrupt = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = !interrupt.IsCancellationRequested;
            interrupt.Cancel();
        };

        var interactive = !Console.IsErrorRedirected;
        return await LoadGenCommand.RunAsync(options, Console.Out, Console.Error, interactive, handler: null, TimeProvider.System, interrupt.Token);
    }
}
