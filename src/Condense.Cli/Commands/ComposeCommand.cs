// `condense compose FIRST SECOND -o OUT`: one model from two, the first's outputs feeding the second's inputs (a
// preprocessing graph before the model it prepares images for), so the pair is compressed, run and shipped as one file.
// The second model's names stay as they are; the result's inputs, outputs and node counts are printed.
using System.ComponentModel;
using Condense.Formats;
using Condense.Graph;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Condense.Cli.Commands;

internal sealed class ComposeCommand : Command<ComposeCommand.Settings>
{
    public sealed class Settings : CommonSettings
    {
        [CommandArgument(0, "<FIRST>")] [Description("The model that runs first, e.g. a preprocessing graph (.onnx or .safetensors).")]
        public string First { get; init; } = "";

        [CommandArgument(1, "<SECOND>")] [Description("The model that reads the first's outputs; its names stay as they are.")]
        public string Second { get; init; } = "";

        [CommandOption("-o|--out <FILE>")] [Description("Where to save the composed model (default: SECOND.composed.onnx).")]
        public string? Out { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var output = new Output(settings.Json);
        string outPath = settings.Out ?? Path.ChangeExtension(settings.Second, null) + ".composed.onnx";
        OutputPaths.CheckFile(outPath, new RunInput("first model", settings.First), new RunInput("second model", settings.Second));
        ModelFile.CheckSavable(outPath);
        var first = ModelFile.Load(settings.First).Graph;
        var second = ModelFile.Load(settings.Second).Graph;
        var connections = GraphComposition.Connections(first, second);
        var composed = GraphComposition.Compose(first, second);
        ModelFile.Save(composed, outPath);

        var links = new Table().AddColumns("output of first", "input of second", "shape");
        foreach (var c in connections)
            links.AddRow(Markup.Escape(c.Output.Name), Markup.Escape(c.Input.Name), Markup.Escape(c.Input.FormatShape()));
        output.Console.Write(links);
        var values = new Table().AddColumns("composed", "name", "type", "shape");
        foreach (var i in composed.Inputs) values.AddRow("input", Markup.Escape(i.Name), Markup.Escape(i.DataType), Markup.Escape(i.FormatShape()));
        foreach (var o in composed.Outputs) values.AddRow("output", Markup.Escape(o.Name), Markup.Escape(o.DataType), Markup.Escape(o.FormatShape()));
        output.Console.Write(values);
        int fromFirst = composed.Nodes.Count - second.Nodes.Count;
        output.Console.MarkupLine($"{fromFirst} nodes from the first model + {second.Nodes.Count} from the second = {composed.Nodes.Count}"
            + (composed.Opset is { } opset ? $", opset {opset}" : ""));
        output.Console.MarkupLine($"saved [bold]{Markup.Escape(outPath)}[/]: {Output.FormatBytes(AtomicFile.Length(outPath))}");
        output.Result(new
        {
            output = outPath,
            connections = connections.Select(c => new { from = c.Output.Name, to = c.Input.Name }),
            inputs = composed.Inputs.Select(i => new { name = i.Name, type = i.DataType, shape = i.Shape }),
            outputs = composed.Outputs.Select(o => new { name = o.Name, type = o.DataType, shape = o.Shape }),
            nodes = new { first = fromFirst, second = second.Nodes.Count, total = composed.Nodes.Count },
            opset = composed.Opset,
            file_bytes = AtomicFile.Length(outPath),
        });
        return 0;
    }
}
