namespace IngestService.Export;

public static class ExportExtensions
{
    /// <summary>Registers the fleet export and its options (<c>Export</c> section).</summary>
    public static IServiceCollection AddExport(this IServiceCollection services)
    {
        services.AddOptions<ExportOptions>().BindConfiguration(ExportOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<FleetExport>();
        return services;
    }
}
