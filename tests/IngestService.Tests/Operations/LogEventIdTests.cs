using System.Reflection;
using Microsoft.Extensions.Logging;

namespace IngestService.Tests.Operations;

/// <summary>
/// Each feature folder logs in its own range of event ids, so an id found in a log names one message:
/// Ingest 1000–1999, Delivery 2000–2999, Regroup 3000–3999, Operations 4000–4999, Query 5000–5999,
/// Storage 6000–6999, Export 7000–7999 (also in docs/operations.md).
/// </summary>
public sealed class LogEventIdTests
{
    private static readonly Dictionary<string, int> RangeStart = new()
    {
        ["Ingest"] = 1000,
        ["Delivery"] = 2000,
        ["Regroup"] = 3000,
        ["Operations"] = 4000,
        ["Query"] = 5000,
        ["Storage"] = 6000,
        ["Export"] = 7000,
    };

    [Fact]
    public void Every_log_event_id_is_used_once_and_lies_in_its_folders_range()
    {
        var messages = typeof(Program).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly)
                .Select(m => (Method: $"{t.FullName}.{m.Name}", Folder: t.Namespace?.Split('.').ElementAtOrDefault(1) ?? "(root)", m.GetCustomAttribute<LoggerMessageAttribute>())))
            .Where(m => m.Item3 is not null)
            .Select(m => (m.Method, m.Folder, Id: m.Item3!.EventId))
            .ToList();

        Assert.NotEmpty(messages);
        var reused = messages.GroupBy(m => m.Id).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(", ", g.Select(m => m.Method))}");
        Assert.Empty(reused);
        var outside = messages.Where(m => !RangeStart.TryGetValue(m.Folder, out var start) || m.Id < start || m.Id >= start + 1000)
            .Select(m => $"{m.Id} in {m.Folder}: {m.Method}");
        Assert.Empty(outside);
    }
}
