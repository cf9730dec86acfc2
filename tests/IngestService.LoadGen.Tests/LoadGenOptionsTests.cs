namespace IngestService.LoadGen.Tests;

public sealed class LoadGenOptionsTests
{
    [Fact]
    public void The_contract_command_line_parses()
    {
        Assert.True(LoadGenOptions.TryParse(["--url", "http://127.0.0.1:5080", "--sensors", "500", "--duration", "20s", "--verify"], out var options, out var error), error);

        Assert.Equal(new Uri("http://127.0.0.1:5080"), options.Url);
        Assert.Equal(500, options.Sensors);
        Assert.Equal(TimeSpan.FromSeconds(20), options.Duration);
        Assert.Null(options.EventsPerSensor);
        Assert.True(options.Verify);
        Assert.Equal(1, options.Batch);
    }

    [Fact]
    public void Every_option_is_read_including_the_equals_form()
    {
        Assert.True(LoadGenOptions.TryParse(
            ["--events=7", "--event-bytes", "1024", "--batch", "50", "--token", "abc", "--ts-spread", "3d", "--max-retry-after", "500ms", "--run-id", "r1", "--verify-url=http://127.0.0.1:5081"],
            out var options, out var error), error);

        Assert.Equal(7, options.EventsPerSensor);
        Assert.Null(options.Duration);
        Assert.Equal(1024, options.EventBytes);
        Assert.Equal(50, options.Batch);
        Assert.Equal("abc", options.Token);
        Assert.Equal(TimeSpan.FromDays(3), options.TsSpread);
        Assert.Equal(TimeSpan.FromMilliseconds(500), options.MaxRetryAfter);
        Assert.Equal("r1", options.RunId);
        Assert.Equal(new Uri("http://127.0.0.1:5081"), options.VerifyUrl);
        Assert.False(options.Verify);
    }

    [Fact]
    public void Without_duration_or_events_a_run_lasts_ten_seconds()
    {
        Assert.True(LoadGenOptions.TryParse([], out var options, out _));

        Assert.Equal(TimeSpan.FromSeconds(10), options.Duration);
        Assert.Equal(TimeSpan.Zero, options.TsSpread);
    }

    [Theory]
    [InlineData("500ms", 0.5)]
    [InlineData("20s", 20)]
    [InlineData("2m", 120)]
    [InlineData("1.5h", 5400)]
    [InlineData("2d", 172800)]
    [InlineData("15", 15)]
    [InlineData("00:01:30", 90)]
    public void Durations_take_the_usual_suffixes(string text, double seconds)
    {
        Assert.True(LoadGenOptions.TryParseDuration(text, out var value));
        Assert.Equal(TimeSpan.FromSeconds(seconds), value);
    }

    [Theory]
    [InlineData("--sensors", "0", "--sensors")]
    [InlineData("--sensors", "many", "--sensors")]
    [InlineData("--duration", "soon", "--duration")]
    [InlineData("--duration", "0s", "--duration")]
    [InlineData("--url", "ftp://host", "--url")]
    [InlineData("--verify-url", "node1", "--verify-url")]
    [InlineData("--bogus", "1", "unknown option")]
    [InlineData("--run-id", "a/b", "--run-id")]
    public void Bad_values_are_refused_with_the_option_named(string name, string value, string expected)
    {
        Assert.False(LoadGenOptions.TryParse([name, value], out _, out var error));
        Assert.Contains(expected, error);
    }

    [Fact]
    public void A_warmup_must_be_shorter_than_the_duration()
    {
        Assert.True(LoadGenOptions.TryParse(["--duration", "10s", "--warmup", "2s"], out var options, out _));
        Assert.Equal(TimeSpan.FromSeconds(2), options.Warmup);

        Assert.False(LoadGenOptions.TryParse(["--duration", "2s", "--warmup", "2s"], out _, out var error));
        Assert.Contains("--warmup", error);
        Assert.False(LoadGenOptions.TryParse(["--events", "5", "--warmup", "1s"], out _, out _));
    }

    [Fact]
    public void Duration_and_events_together_are_refused()
    {
        Assert.False(LoadGenOptions.TryParse(["--duration", "5s", "--events", "10"], out _, out var error));
        Assert.Contains("either", error);
    }

    [Fact]
    public void An_option_missing_its_value_is_refused()
    {
        Assert.False(LoadGenOptions.TryParse(["--sensors"], out _, out var error));
        Assert.Equal("--sensors needs a value", error);
    }

    [Fact]
    public void A_paced_run_with_random_readings_is_understood()
    {
        Assert.True(LoadGenOptions.TryParse(["--sensors", "1000", "--interval", "8.64s", "--random-readings"], out var options, out var error), error);

        Assert.Equal(TimeSpan.FromSeconds(8.64), options.Interval);
        Assert.True(options.RandomReadings);
        Assert.Equal(TimeSpan.Zero, new LoadGenOptions().Interval);
    }
}
