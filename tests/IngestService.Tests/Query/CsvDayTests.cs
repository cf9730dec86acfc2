using System.Globalization;
using System.Text;
using IngestService.Query;

namespace IngestService.Tests.Query;

public sealed class CsvDayTests
{
    private static string Csv(params string[] events)
    {
        var lines = events.Select((e, i) => Encoding.UTF8.GetBytes(
            $"{{\"sensorId\":\"s1\",\"seq\":{i},\"ts\":\"2026-11-21T10:00:00.000Z\",\"receivedAt\":\"2026-11-21T10:00:00.000Z\",\"event\":{e}}}")).ToList();
        var columns = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in lines)
        {
            CsvDay.CollectColumns(line, columns, seen);
        }

        var index = columns.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => x.i, StringComparer.Ordinal);
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        CsvDay.WriteHeader(writer, columns);
        foreach (var line in lines)
        {
            CsvDay.WriteRow(writer, line, columns, index);
        }

        return writer.ToString();
    }

    [Fact]
    public void A_lone_surrogate_stored_by_an_earlier_version_reads_as_a_replacement_character()
    {
        // Ingest rejects these now; lines stored before that must still read, and the rest of the day with them.
        var csv = Csv(
            """{"ts":"2026-11-21T10:00:00Z","note":"a\uD800b","\uDC00":1}""",
            """{"ts":"2026-11-21T10:00:00Z","note":"fine \uD83D\uDE00"}""");

        Assert.Equal(
            "sensorId,seq,ts,receivedAt,event.ts,note,\uFFFD\r\n"
            + "s1,0,2026-11-21T10:00:00.000Z,2026-11-21T10:00:00.000Z,2026-11-21T10:00:00Z,a\uFFFDb,1\r\n"
            + "s1,1,2026-11-21T10:00:00.000Z,2026-11-21T10:00:00.000Z,2026-11-21T10:00:00Z,fine \U0001F600,\r\n",
            csv);
    }
}
