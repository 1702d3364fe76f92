// One AdaRound step on one weight: the soft-quantized weight W̃(V), the objective on a batch of rows and its gradient in V,
// written out (AdaRound.cs has the formulas). Per element the scalar loop of each row's tail is the specification; the
// Vector<float> loop before it computes the same expressions eight or sixteen at a time, since these passes over every
// weight, not the two GEMMs, are most of a step's time. Rows are split between threads; buffers are reused between steps.
using System.Numerics;
using System.Numerics.Tensors;
using Condense.Kernels.Platform;
using Condense.Tensors;
using Gemm = Condense.Kernels.FloatGemm.Gemm;
using Tensor = Condense.Tensors.Tensor;

namespace Condense.Quantization;

public static partial class AdaRound
{
    // A weight [rows, cols] with its row scales and ⌊W/s⌋, and the buffers of a step.
    internal sealed class Layer
    {
        private readonly float[] _weight, _scales, _floor, _sigmoid, _h, _slope, _inRange, _delta, _power, _gradient;
        private readonly int _rows, _cols;
        private readonly QuantRange _range;
        private float[] _error = [];

        public Layer(Tensor weight, IReadOnlyList<float> scales, QuantRange range)
        {
            (_rows, _cols, _range) = (weight.Shape[0], weight.Shape[1], range);
            _weight = weight.Data;
            _scales = [.. scales];
            _floor = new float[weight.Size];
            // W/s in float32, as QuantizeLinear divides.
            for (int r = 0; r < _rows; r++)
                for (int c = 0; c < _cols; c++) _floor[r * _cols + c] = MathF.Floor(_weight[r * _cols + c] / _scales[r]);
            (_sigmoid, _h, _slope, _inRange) = (new float[weight.Size], new float[weight.Size], new float[weight.Size], new float[weight.Size]);
            (_delta, _power, _gradient) = (new float[weight.Size], new float[weight.Size], new float[weight.Size]);
        }

        // σ(V)(ζ − γ) + γ = frac(W/s), solved for V: h(V) starts at the fractional part.
        public float[] InitialV()
        {
            var v = new float[_weight.Length];
            for (int i = 0; i < v.Length; i++)
            {
                float fraction = Math.Clamp(_weight[i] / _scales[i / _cols] - _floor[i], 0f, 1f), p = (fraction - Gamma) / (Zeta - Gamma);
                v[i] = -MathF.Log(1 / p - 1);
            }
            return v;
        }

        // The objective on a batch of rows [batch, cols] and its gradient with respect to V (beta 0: reconstruction only).
        public (double Loss, Tensor Gradient) Step(float[] v, Tensor rows, double beta, double lambda)
        {
            int batch = rows.Shape[0];
            if (_error.Length < batch * _rows) _error = new float[batch * _rows];
            ForRows((first, last) =>
            {
                var span = new Range(first * _cols, last * _cols);
                TensorPrimitives.Sigmoid(v.AsSpan(span), _sigmoid.AsSpan(span));
                for (int r = first; r < last; r++) Forward(r);
                if (beta > 0) TensorPrimitives.Pow(_power.AsSpan(span), (float)beta - 1, _power.AsSpan(span));   // |2h − 1|^(β−1)
            });
            Gemm.Multiply(false, true, batch, _rows, _cols, 1f, rows.Data, _cols, _delta, _cols, 0f, _error, _rows);            // E = X Δᵀ
            double loss = TensorPrimitives.SumOfSquares(_error.AsSpan(0, batch * _rows)) / (double)batch;
            Gemm.Multiply(true, false, _rows, _cols, batch, 2f / batch, _error, _rows, rows.Data, _cols, 0f, _gradient, _cols); // (2/B) Eᵀ X
            var regularizer = new double[_rows];
            ForRows((first, last) =>
            {
                for (int r = first; r < last; r++) regularizer[r] = Backward(r, (float)beta, (float)lambda);
            });
            return (loss + lambda * regularizer.Sum(), new Tensor(_gradient, _rows, _cols));
        }

        // Row r of h, ∂h/∂V, ∂Δ/∂h (s, or 0 where W̃ is clamped), Δ = W̃ − W, and |2h − 1| (raised to β − 1 afterwards).
        private void Forward(int r)
        {
            float s = _scales[r], qMin = _range.QMin, qMax = _range.QMax;
            int i = r * _cols, end = i + _cols;
            if (Vector.IsHardwareAccelerated)
            {
                var (zero, one, two, scale) = (Vector<float>.Zero, Vector<float>.One, new Vector<float>(2), new Vector<float>(s));
                var (low, high) = (new Vector<float>(qMin), new Vector<float>(qMax));
                for (; i <= end - Vector<float>.Count; i += Vector<float>.Count)
                {
                    var sigmoid = new Vector<float>(_sigmoid, i);
                    var raw = sigmoid * (Zeta - Gamma) + new Vector<float>(Gamma);
                    var h = Vector.Min(Vector.Max(raw, zero), one);
                    var q = new Vector<float>(_floor, i) + h;
                    h.CopyTo(_h, i);
                    Vector.ConditionalSelect(Vector.GreaterThan(raw, zero) & Vector.LessThan(raw, one), (Zeta - Gamma) * sigmoid * (one - sigmoid), zero)
                        .CopyTo(_slope, i);
                    Vector.ConditionalSelect(Vector.GreaterThanOrEqual(q, low) & Vector.LessThanOrEqual(q, high), scale, zero).CopyTo(_inRange, i);
                    (scale * Vector.Min(Vector.Max(q, low), high) - new Vector<float>(_weight, i)).CopyTo(_delta, i);
                    Vector.Abs(two * h - one).CopyTo(_power, i);
                }
            }
            for (; i < end; i++)
            {
                float sigmoid = _sigmoid[i], raw = sigmoid * (Zeta - Gamma) + Gamma, h = Math.Clamp(raw, 0f, 1f), q = _floor[i] + h;
                _h[i] = h;
                _slope[i] = raw > 0 && raw < 1 ? (Zeta - Gamma) * sigmoid * (1 - sigmoid) : 0;
                _inRange[i] = q >= qMin && q <= qMax ? s : 0;
                _delta[i] = s * Math.Clamp(q, qMin, qMax) - _weight[i];
                _power[i] = MathF.Abs(2 * h - 1);
            }
        }

        // Row r of ∂/∂V = (∂rec/∂Δ·∂Δ/∂h − λ·2β·|2h − 1|^(β−1)·sign(2h − 1))·∂h/∂V, in place of ∂rec/∂Δ;
        // returns the row's Σ (1 − |2h − 1|^β) (0 when β is 0).
        private double Backward(int r, float beta, float lambda)
        {
            int i = r * _cols, end = i + _cols;
            float pull = beta > 0 ? 2 * lambda * beta : 0, regularizer = 0;
            if (Vector.IsHardwareAccelerated)
            {
                var (zero, one, two, weight) = (Vector<float>.Zero, Vector<float>.One, new Vector<float>(2), new Vector<float>(pull));
                var sum = Vector<float>.Zero;
                for (; i <= end - Vector<float>.Count; i += Vector<float>.Count)
                {
                    var a = two * new Vector<float>(_h, i) - one;
                    var power = beta > 0 ? new Vector<float>(_power, i) : zero;
                    var sign = Vector.ConditionalSelect(Vector.GreaterThan(a, zero), one, Vector.ConditionalSelect(Vector.LessThan(a, zero), -one, zero));
                    var dh = new Vector<float>(_gradient, i) * new Vector<float>(_inRange, i) - weight * power * sign;
                    (dh * new Vector<float>(_slope, i)).CopyTo(_gradient, i);
                    if (beta > 0) sum += one - power * Vector.Abs(a);
                }
                regularizer = Vector.Sum(sum);
            }
            for (; i < end; i++)
            {
                float a = 2 * _h[i] - 1, power = beta > 0 ? _power[i] : 0;
                float dh = _gradient[i] * _inRange[i] - pull * power * MathF.Sign(a);
                _gradient[i] = dh * _slope[i];
                if (beta > 0) regularizer += 1 - power * MathF.Abs(a);
            }
            return regularizer;
        }

        public Tensor Codes(float[] v)
        {
            var codes = new float[v.Length];
            for (int i = 0; i < v.Length; i++) codes[i] = Math.Clamp(_floor[i] + (v[i] >= 0 ? 1 : 0), _range.QMin, _range.QMax);
            return new Tensor(codes, _rows, _cols);
        }

        // Round half to even of W/s, as QuantizeLinear.
        public float[] RoundToNearest() =>
            [.. _weight.Select((w, i) => (float)Math.Clamp(MathF.Round(w / _scales[i / _cols], MidpointRounding.ToEven), _range.QMin, _range.QMax))];

        public float[] Dequantize(float[] codes) => [.. codes.Select((q, i) => q * _scales[i / _cols])];

        // ‖(W̃ − W) xᵀ‖² per row of x.
        public double Error(float[] dequantized, Tensor inputs)
        {
            var delta = dequantized.Select((w, i) => w - _weight[i]).ToArray();
            var product = new float[inputs.Shape[0] * _rows];
            Gemm.Multiply(false, true, inputs.Shape[0], _rows, _cols, 1f, inputs.Data, _cols, delta, _cols, 0f, product, _rows);
            return TensorPrimitives.SumOfSquares(product) / (double)inputs.Shape[0];
        }

        private void ForRows(Action<int, int> body) => ParallelRanges.For(_rows, (long)_rows * _cols, 1 << 15, body);
    }
}
