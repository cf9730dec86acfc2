using System.Diagnostics;

namespace IngestService.Tests.Infrastructure;

/// <summary>Runs the tools the analyst tests drive (node, npm, python3, sh) from the repository's folders.</summary>
public static class ToolProcess
{
    /// <summary>The checkout's root: the folder above the test binaries that holds <c>IngestService.sln</c>.</summary>
    public static string RepositoryRoot()
    {
        var folder = new DirectoryInfo(AppContext.BaseDirectory);
        while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "IngestService.sln")))
        {
            folder = folder.Parent;
        }

        return folder?.FullName ?? throw new InvalidOperationException("IngestService.sln not found above the test binaries.");
    }

    /// <summary>Runs <paramref name="file"/> in <paramref name="folder"/>, fails the test on a non-zero exit, and answers its stdout.</summary>
    public static async Task<string> RunAsync(string file, string[] args, string folder, Dictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(file, args) { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (name, value) in environment ?? [])
        {
            start.Environment[name] = value;
        }

        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Assert.Fail($"`{file}` is not installed: apt-get install -y nodejs npm chromium python3-pandas (.ci/run installs them).");
            throw;
        }

        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            await process.WaitForExitAsync(timeout.Token);
            Assert.True(process.ExitCode == 0, $"`{file} {string.Join(' ', args)}` failed ({process.ExitCode}): {await stdout}{await stderr}");
            return await stdout;
        }
    }
}
