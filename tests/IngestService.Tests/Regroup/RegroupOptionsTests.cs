using System.ComponentModel.DataAnnotations;
using IngestService.Regroup;
using IngestService.Storage;
using IngestService.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace IngestService.Tests.Regroup;

public sealed class RegroupOptionsTests
{
    private static List<ValidationResult> Validate(RegroupOptions options)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);
        return results;
    }

    [Fact]
    public void A_freshness_shorter_than_the_interval_is_refused_with_a_message_naming_both_keys()
    {
        var results = Validate(new RegroupOptions { Interval = TimeSpan.FromMinutes(5), Freshness = TimeSpan.FromMinutes(1) });

        var message = Assert.Single(results).ErrorMessage!;
        Assert.Contains("Regroup:Freshness", message, StringComparison.Ordinal);
        Assert.Contains("Regroup:Interval", message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_cursor_lag_of_zero_is_refused()
    {
        Assert.Contains(Validate(new RegroupOptions { CursorLag = TimeSpan.Zero }), r => r.MemberNames.Contains(nameof(RegroupOptions.CursorLag)));
    }

    [Fact]
    public void The_defaults_are_valid_and_the_Local_ones_are_fresh_within_ten_seconds()
    {
        var local = new RegroupOptions();
        local.ForLocal();

        Assert.Empty(Validate(new RegroupOptions()));
        Assert.Empty(Validate(local));
        Assert.Equal(TimeSpan.FromSeconds(10), local.Freshness);
        Assert.True(local.Interval < local.Freshness);
    }

    [Fact]
    public void The_Local_service_gets_the_Local_defaults_and_configuration_still_overrides_them()
    {
        using var plain = new IngestAppFactory();
        using var configured = new IngestAppFactory(new() { ["Regroup:Freshness"] = "00:00:30" });

        var local = plain.Services.GetRequiredService<IOptions<RegroupOptions>>().Value;
        var overridden = configured.Services.GetRequiredService<IOptions<RegroupOptions>>().Value;

        Assert.Equal((TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(10)), (local.Interval, local.Freshness));
        Assert.Equal((TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(30)), (overridden.Interval, overridden.Freshness));
        Assert.IsType<StoreFreshness>(plain.Services.GetRequiredService<IStoreFreshness>());
    }
}
