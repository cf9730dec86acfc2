using System.ComponentModel.DataAnnotations;
using IngestService.Regroup;
using IngestService.Storage;
using IngestService.Storage.Runs;
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
    public void A_fanout_below_two_is_refused()
    {
        Assert.Contains(Validate(new RegroupOptions { Fanout = 1 }), r => r.MemberNames.Contains(nameof(RegroupOptions.Fanout)));
    }

    [Fact]
    public void A_late_sweep_interval_beyond_half_an_hour_is_refused_so_late_data_is_still_sealed_within_the_hour()
    {
        Assert.Contains(Validate(new RegroupOptions { LateSweepInterval = TimeSpan.FromMinutes(31) }), r => r.MemberNames.Contains(nameof(RegroupOptions.LateSweepInterval)));
        Assert.Empty(Validate(new RegroupOptions { LateSweepInterval = TimeSpan.Zero }));
    }

    [Fact]
    public void The_defaults_are_valid_and_the_Local_ones_pass_every_two_seconds_with_no_delivery_lag_or_late_window()
    {
        var local = new RegroupOptions();
        local.ForLocal();

        Assert.Empty(Validate(new RegroupOptions()));
        Assert.Empty(Validate(local));
        Assert.Equal((TimeSpan.FromSeconds(2), TimeSpan.Zero, TimeSpan.Zero), (local.Interval, local.DeliveryLag, local.LateWindow));
        Assert.Equal(TimeSpan.FromHours(26), new RegroupOptions().LateWindow);
    }

    [Fact]
    public void The_Local_service_gets_the_Local_defaults_and_configuration_still_overrides_them()
    {
        using var plain = new IngestAppFactory();
        using var configured = new IngestAppFactory(new() { ["Regroup:Interval"] = "00:00:05" });

        var local = plain.Services.GetRequiredService<IOptions<RegroupOptions>>().Value;
        var overridden = configured.Services.GetRequiredService<IOptions<RegroupOptions>>().Value;

        Assert.Equal((TimeSpan.FromSeconds(2), TimeSpan.Zero), (local.Interval, local.DeliveryLag));
        Assert.Equal((TimeSpan.FromSeconds(5), TimeSpan.Zero), (overridden.Interval, overridden.DeliveryLag));
        Assert.IsType<ManifestFreshness>(plain.Services.GetRequiredService<IStoreFreshness>());
    }
}
