using System.Buffers;
using System.Text.Json;

namespace IngestService.LoadGen.Tests;

public sealed class EventBodiesTests
{
    [Fact]
    public void An_event_carries_its_ts_and_seq_as_the_service_reads_them()
    {
        var output = new ArrayBufferWriter<byte>();
        var ts = DateTimeOffset.Parse("2026-11-21T23:59:59.123Z").ToUnixTimeMilliseconds();

        new EventBodies("run1", 0).Write(output, 42, ts);

        using var json = JsonDocument.Parse(output.WrittenMemory);
        Assert.Equal("2026-11-21T23:59:59.123Z", json.RootElement.GetProperty("ts").GetString());
        Assert.Equal(42, json.RootElement.GetProperty("seq").GetInt64());
        Assert.Equal("run1", json.RootElement.GetProperty("run").GetString());
    }

    [Theory]
    [InlineData(200)]
    [InlineData(1024)]
    [InlineData(16_384)]
    public void Padding_brings_an_event_to_the_asked_size(int size)
    {
        var output = new ArrayBufferWriter<byte>();

        new EventBodies("run1", size).Write(output, 1, 0);

        Assert.InRange(output.WrittenCount, size - 2, size + 2);
        using var json = JsonDocument.Parse(output.WrittenMemory);
        Assert.True(json.RootElement.TryGetProperty("pad", out _));
    }

    [Fact]
    public void The_same_event_written_twice_has_the_same_bytes()
    {
        var bodies = new EventBodies("run1", 300);
        var first = new ArrayBufferWriter<byte>();
        var second = new ArrayBufferWriter<byte>();

        bodies.Write(first, 9, 1_000);
        bodies.Write(second, 9, 1_000);

        Assert.Equal(first.WrittenSpan.ToArray(), second.WrittenSpan.ToArray());
    }

    [Fact]
    public void Random_readings_bring_an_event_to_the_asked_size_and_a_resend_has_the_same_bytes()
    {
        var bodies = new EventBodies("run1", 300, randomReadings: true);
        var first = new ArrayBufferWriter<byte>();
        var again = new ArrayBufferWriter<byte>();
        var next = new ArrayBufferWriter<byte>();

        bodies.Write(first, 9, 1_000);
        bodies.Write(again, 9, 1_000);
        bodies.Write(next, 10, 1_000);

        Assert.InRange(first.WrittenCount, 280, 300);
        using var json = JsonDocument.Parse(first.WrittenMemory);
        Assert.Equal(JsonValueKind.Number, json.RootElement.GetProperty("r0").ValueKind);
        Assert.False(json.RootElement.TryGetProperty("pad", out _));
        Assert.Equal(first.WrittenSpan.ToArray(), again.WrittenSpan.ToArray());
        Assert.NotEqual(first.WrittenSpan.ToArray(), next.WrittenSpan.ToArray());
    }

    [Fact]
    public void Random_readings_of_two_sensors_differ_at_the_same_seq()
    {
        var one = new ArrayBufferWriter<byte>();
        var other = new ArrayBufferWriter<byte>();

        new EventBodies("run1", 300, randomReadings: true, sensorId: "lg-run1-0").Write(one, 9, 1_000);
        new EventBodies("run1", 300, randomReadings: true, sensorId: "lg-run1-1").Write(other, 9, 1_000);

        Assert.NotEqual(one.WrittenSpan.ToArray(), other.WrittenSpan.ToArray());
    }
}
