using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;

namespace IngestService.Tests.Architecture;

/// <summary>
/// docs/configuration.md stays true: every key of every options class (a class with a <c>Section</c> constant) has
/// a row there, and that row states the key's default as the class sets it.
/// </summary>
public sealed partial class ConfigurationReferenceTests
{
    private static readonly string[] Rows = File.ReadAllLines(Path.Combine(RepositoryRoot(), "docs", "configuration.md"))
        .Where(l => l.StartsWith("| `", StringComparison.Ordinal))
        .ToArray();

    public static TheoryData<string, string> Keys()
    {
        var data = new TheoryData<string, string>();
        foreach (var (key, type, property) in OptionsKeys())
        {
            data.Add(key, $"{type.Name}.{property.Name}");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Keys))]
    public void Every_options_key_is_documented_with_its_default(string key, string declaredAs)
    {
        var (_, type, property) = OptionsKeys().Single(k => k.Key == key && $"{k.Type.Name}.{k.Property.Name}" == declaredAs);
        var row = Rows.FirstOrDefault(r => r.Split('|')[1].Contains($"`{key}`", StringComparison.Ordinal));
        Assert.True(row is not null, $"docs/configuration.md has no row for {key} ({declaredAs})");

        var defaultCell = row.Split('|', StringSplitOptions.RemoveEmptyEntries)[^1];
        var value = property.GetValue(Activator.CreateInstance(type));
        Assert.True(States(defaultCell, value), $"the row of {key} gives '{defaultCell.Trim()}' as its default, but {declaredAs} defaults to '{value ?? "null"}'");
    }

    [Fact]
    public void The_source_has_no_ConfigureAwait()
    {
        var source = Path.Combine(RepositoryRoot(), "src");
        var offenders = Directory.EnumerateFiles(source, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(f => File.ReadAllText(f).Contains(".ConfigureAwait(", StringComparison.Ordinal))
            .Select(f => Path.GetRelativePath(source, f));

        Assert.Empty(offenders);
    }

    private static IEnumerable<(string Key, Type Type, PropertyInfo Property)> OptionsKeys() =>
        from type in typeof(Backends).Assembly.GetTypes()
        let section = type.GetField("Section", BindingFlags.Public | BindingFlags.Static)
        where section is { IsLiteral: true } && type.GetConstructor(Type.EmptyTypes) is not null
        from property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
        where property.CanWrite && IsScalar(property.PropertyType)
        select ($"{section.GetRawConstantValue()}:{property.Name}", type, property);

    private static bool IsScalar(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(TimeSpan) || type == typeof(decimal);
    }

    /// <summary>True when a backticked value of the cell is <paramref name="value"/>; an unset value reads "empty" or "required".</summary>
    private static bool States(string cell, object? value)
    {
        var values = Backticked().Matches(cell).Select(m => m.Groups[1].Value).ToList();
        return value switch
        {
            null or "" => cell.Contains("empty", StringComparison.Ordinal) || cell.Contains("required", StringComparison.Ordinal),
            TimeSpan t => values.Any(v => TimeSpan.TryParse(v, CultureInfo.InvariantCulture, out var d) && d == t) || (t == TimeSpan.Zero && values.Contains("0")),
            bool b => values.Contains(b ? "true" : "false"),
            IFormattable f => values.Contains(f.ToString(null, CultureInfo.InvariantCulture)),
            _ => values.Contains(value.ToString()!),
        };
    }

    private static string RepositoryRoot()
    {
        var folder = new DirectoryInfo(AppContext.BaseDirectory);
        while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "IngestService.sln")))
        {
            folder = folder.Parent;
        }

        return folder?.FullName ?? throw new InvalidOperationException("The repository root (IngestService.sln) is not above the test binaries.");
    }

    [GeneratedRegex("`([^`]*)`")]
    private static partial Regex Backticked();
}
