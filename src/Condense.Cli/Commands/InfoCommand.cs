// `condense info MODEL`: the graph's layers and the parameter tensors with shapes and sparsity.
using Condense.Formats;
using System.ComponentModel;
using Condense.Onnx;
using Condense.Graph;
using Condense.Reports;
using Condense.Tensors;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Condense.Cli.Commands;

internal sealed class InfoCommand : Command<InfoCommand.Settings>
{
    public sealed class Settings : CommonSettings
    {
        [CommandArgument(0, "<MODEL>")] [Description("A saved model (.safetensors or .onnx).")]
        public string Model { get; init; } = "";
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var output = new Output(settings.Json);
        var model = ModelFile.Load(settings.Model);
        var graph = model.Graph;
        var summary = ModelSummary.Of(model);
        long fileBytes = new FileInfo(settings.Model).Length;

        var layerRows = LayerSummary.Of(model);

        // Initializers are not listed as inputs: the parameters column counts them and the tensor table names them.
        var layers = new Table().Title($"[bold]{Markup.Escape(Path.GetFileName(settings.Model))}[/]")
            .AddColumns("node", "op", "inputs", "attributes", "output shape", "parameters");
        foreach (var row in layerRows)
            layers.AddRow(Markup.Escape(row.Name), row.OpType, Markup.Escape(string.Join(", ", row.Inputs)), Markup.Escape(row.Attributes),
                row.OutputShape is null ? "" : Markup.Escape(Shape.Format(row.OutputShape)), row.Parameters == 0 ? "" : $"{row.Parameters:N0}");
        output.Console.Write(layers);

        var tensors = new Table().AddColumns("tensor", "shape", "parameters", "non-zero", "sparsity");
        foreach (var t in summary.Tensors)
            tensors.AddRow(Markup.Escape(t.Name) + (t.Trainable ? "" : " (buffer)"), Markup.Escape(Shape.Format(t.Shape)),
                $"{t.Elements:N0}", $"{t.Nonzero:N0}", $"{t.Sparsity:P1}");
        tensors.AddRow("[bold]total[/]", "", $"[bold]{summary.Parameters:N0}[/]", $"[bold]{summary.NonzeroParameters:N0}[/]",
            $"[bold]{summary.Sparsity:P1}[/]");
        output.Console.Write(tensors);
        var parts = TransformerParts.Of(model);
        if (parts is not null)
        {
            var table = new Table().Title($"transformer parts (hidden size {parts.HiddenSize})").AddColumns("part", "parameters", "share");
            long all = Math.Max(1, parts.Embeddings + parts.Attention + parts.FeedForward + parts.Other);
            foreach (var (part, count) in new[] { ("embeddings", parts.Embeddings), ("attention", parts.Attention),
                ("feed-forward", parts.FeedForward), ("other", parts.Other) })
                table.AddRow(part, $"{count:N0}", $"{(double)count / all:P1}");
            output.Console.Write(table);
        }
        // A graph of several inputs lists each (name, element type, shape); one input fits on the summary line.
        if (graph.Inputs.Count > 1)
        {
            var inputs = new Table().AddColumns("input", "type", "shape");
            foreach (var i in graph.Inputs) inputs.AddRow(Markup.Escape(i.Name), Markup.Escape(i.DataType), Markup.Escape(i.FormatShape()));
            output.Console.Write(inputs);
        }
        string inputText = graph.Inputs.Count == 1
            ? $"input {graph.Inputs[0].Name} {Shape.Format(graph.Inputs[0].Shape)}"
            : $"inputs {string.Join(", ", graph.Inputs.Select(i => i.Name))}";
        string outputText = $"output {graph.Outputs[0].Name} {Shape.Format(graph.Outputs[0].Shape)}";
        output.Console.MarkupLine($"{Markup.Escape(inputText)} → {Markup.Escape(outputText)}; file {Output.FormatBytes(fileBytes)}");

        output.Result(new
        {
            model = settings.Model,
            inputs = graph.Inputs.Select(i => new { name = i.Name, type = i.DataType, shape = i.Shape }),
            outputs = graph.Outputs.Select(o => new { name = o.Name, shape = o.Shape }),
            nodes = graph.Nodes.Zip(layerRows, (n, row) => new
            {
                name = n.Name, op = n.OpType, inputs = n.Inputs, outputs = n.Outputs, attributes = row.Attributes,
                output_shape = row.OutputShape, parameters = row.Parameters,
            }),
            tensors = summary.Tensors.Select(t => new
            {
                name = t.Name, shape = t.Shape, trainable = t.Trainable, parameters = t.Elements, nonzero_parameters = t.Nonzero, sparsity = t.Sparsity,
            }),
            parameters = summary.Parameters,
            nonzero_parameters = summary.NonzeroParameters,
            sparsity = summary.Sparsity,
            file_bytes = fileBytes,
            transformer = parts is null ? null : new
            {
                hidden_size = parts.HiddenSize, embeddings = parts.Embeddings, attention = parts.Attention,
                feed_forward = parts.FeedForward, other = parts.Other,
            },
        });
        return 0;
    }
}
