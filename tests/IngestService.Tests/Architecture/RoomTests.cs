using System.Reflection;
using NetArchTest.Rules;

namespace IngestService.Tests.Architecture;

/// <summary>
/// The rooms of <c>src/IngestService</c> and the arrows between them (docs/architecture.md): each room may use
/// only the rooms below it, so no two rooms can depend on each other in a circle.
/// </summary>
public sealed class RoomTests
{
    /// <summary>Bottom first. A room may depend on any room before it in this list, never on one after it.</summary>
    public static readonly string[] Layers =
    [
        "Events", "Telemetry", "Auth", "Resilience", "Aws", "Storage", "Delivery", "Export", "Regroup", "Query", "Ingest", "Operations",
    ];

    private static readonly Assembly Service = typeof(Backends).Assembly;

    /// <summary>The composition root above every room: Program, its registration and the backend choice.</summary>
    private static readonly string[] Root = ["IngestService.Backend", "IngestService.IngestServiceExtensions", "Program"];

    public static TheoryData<string> Rooms => [.. Layers];

    [Theory]
    [MemberData(nameof(Rooms))]
    public void A_room_depends_on_no_room_above_it(string room)
    {
        var above = Layers.SkipWhile(r => r != room).Skip(1).Select(Namespace).Concat(Root).ToArray();

        var result = Types.InAssembly(Service).That().ResideInNamespaceMatching(InRoom(room))
            .ShouldNot().HaveDependencyOnAny(above)
            .GetResult();

        Assert.True(result.IsSuccessful, $"{room} uses a room above it: {string.Join(", ", result.FailingTypeNames ?? [])}");
    }

    [Theory]
    [InlineData("Query", "Regroup")]
    [InlineData("Storage", "Delivery")]
    [InlineData("Events", "Storage")]
    public void Named_arrows_that_must_never_exist(string from, string to)
    {
        var result = Types.InAssembly(Service).That().ResideInNamespaceMatching(InRoom(from))
            .ShouldNot().HaveDependencyOn(Namespace(to))
            .GetResult();

        Assert.True(result.IsSuccessful, $"{from} must not use {to}: {string.Join(", ", result.FailingTypeNames ?? [])}");
    }

    [Fact]
    public void Every_room_in_the_source_tree_is_in_the_layer_list()
    {
        var rooms = Service.GetTypes()
            .Select(t => t.Namespace)
            .OfType<string>()
            .Where(n => n.StartsWith("IngestService.", StringComparison.Ordinal))
            .Select(n => n.Split('.')[1])
            .Distinct()
            .Order();

        Assert.Empty(rooms.Except(Layers));
    }

    /// <summary>With the dot, so <c>IngestService.Ingest</c> is not taken for a prefix of <c>IngestService.IngestServiceExtensions</c>.</summary>
    private static string Namespace(string room) => $"IngestService.{room}.";

    private static string InRoom(string room) => $@"^IngestService\.{room}(\..+)?$";
}
