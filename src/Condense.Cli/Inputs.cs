// The shape of one input sample for timing a model: its declared input shape when fully known,
// otherwise the data set's sample shape.
using Condense.Data;
using Condense.Graph;

namespace Condense.Cli;

internal static class Inputs
{
    public static int[] SampleShape(GraphModule model, Dataset data) =>
        model.SampleShape.All(d => d > 0) ? model.SampleShape : data.SampleShape;
}
