using System.Text;
using IngestService.Events;

namespace IngestService.Tests.Ingest;

public sealed class TimestampTests
{
    [Theory]
    [InlineData("2026-11-21T10:00:00Z", "2026-11-21T10:00:00.000Z")]
    [InlineData("2026-11-21t10:00:00z", "2026-11-21T10:00:00.000Z")]
    [InlineData("2026-11-21 10:00:00Z", "2026-11-21T10:00:00.000Z")]
    [InlineData("2026-11-21T10:00:00.153Z", "2026-11-21T10:00:00.153Z")]
    [InlineData("2026-11-21T10:00:00.1234567Z", "2026-11-21T10:00:00.1234567Z")]
    [InlineData("2026-11-21T10:00:00.123456789Z", "2026-11-21T10:00:00.1234567Z")]
    [InlineData("2026-11-21T10:00:00.1200Z", "2026-11-21T10:00:00.120Z")]
    [InlineData("2026-11-22T01:30:00+02:00", "2026-11-21T23:30:00.000Z")]
    [InlineData("2026-11-21T22:30:00-02:00", "2026-11-22T00:30:00.000Z")]
    [InlineData("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z")]
    [InlineData("9999-12-31T23:59:59.9999999Z", "9999-12-31T23:59:59.9999999Z")]
    [InlineData("2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000Z")]
    public void Valid_timestamps_normalise_to_utc(string input, string expected)
    {
        Assert.True(Timestamp.TryParse(Encoding.ASCII.GetBytes(input), out var value, out var error), error);
        Assert.Equal(expected, Timestamp.ToUtcString(value));
    }

    [Theory]
    [InlineData("2026-11-21T10:00:00")]
    [InlineData("2026-11-21T10:00Z")]
    [InlineData("2026-11-21")]
    [InlineData("2026-11-21T10:00:00.Z")]
    [InlineData("2026-11-21T10:00:00+0200")]
    [InlineData("2026-11-21T10:00:00+24:00")]
    [InlineData("2026-11-21T24:00:00Z")]
    [InlineData("2026-13-01T10:00:00Z")]
    [InlineData("2025-02-29T10:00:00Z")]
    [InlineData("2016-12-31T23:59:60Z")]
    [InlineData("0001-01-01T00:00:00+01:00")]
    [InlineData("9999-12-31T23:59:59-01:00")]
    [InlineData("NaN")]
    [InlineData("2026-11-21T10:00:00Zjunk")]
    [InlineData("+2026-11-21T10:00:00Z")]
    public void Invalid_timestamps_are_refused_with_a_reason(string input)
    {
        Assert.False(Timestamp.TryParse(Encoding.ASCII.GetBytes(input), out _, out var error));
        Assert.False(string.IsNullOrEmpty(error));
    }
}
