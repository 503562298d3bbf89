// The per-window step loop of edgevision.nn.infer.WindowBackbone in C++ over ATen: the same PyTorch ops in the
// same order (equal results), without a Python call, argument parse and dispatch from Python per op.
// Built once per source hash by edgevision.nn.window_native (torch.utils.cpp_extension).
#include <pybind11/numpy.h>
#include <torch/extension.h>

#include <cstring>
#include <vector>

namespace {

struct Step {
  int64_t kind;  // 0: conv (gather + mm, or addmm onto a residual), 1: depthwise, 2: grid pool (last)
  int64_t src, table, skip, act;  // act 0: none, 1: relu, 2: relu6
  std::vector<int64_t> view;
  torch::Tensor weight, bias;
};

using F32 = py::array_t<float, py::array::c_style | py::array::forcecast>;
using I64 = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

class WindowPlan {
 public:
  void add(int64_t kind, int64_t src, int64_t table, std::vector<int64_t> view, torch::Tensor weight,
           torch::Tensor bias, int64_t skip, int64_t act) {
    steps_.push_back(Step{kind, src, table, skip, act, std::move(view), std::move(weight), std::move(bias)});
  }

  // The NumPy arrays of edgevision.nn.window_geometry.window_inputs, wrapped without copies (no Python call
  // per array): x0 [N + 1, C + 1] augmented input; index tables t in index[bounds[t]:bounds[t + 1]]; pool
  // [cells, N_last + 1]. Returns the feature vector as a new NumPy array.
  py::array_t<float> forward(const F32& x0, const I64& index, const I64& bounds, const F32& pool) const {
    TORCH_CHECK(x0.ndim() == 2 && pool.ndim() == 2 && index.ndim() == 1 && bounds.ndim() == 1,
                "WindowPlan: x0 and pool must be 2-D, index and bounds 1-D");
    torch::Tensor out;
    {
      c10::InferenceMode guard;
      out = run(wrap(x0), torch::from_blob(const_cast<int64_t*>(index.data()), {index.shape(0)}, torch::kInt64),
                bounds.data(), bounds.shape(0), wrap(pool));
    }
    py::array_t<float> result(out.numel());
    std::memcpy(result.mutable_data(), out.data_ptr<float>(), sizeof(float) * out.numel());
    return result;
  }

 private:
  static torch::Tensor wrap(const F32& a) {
    return torch::from_blob(const_cast<float*>(a.data()), {a.shape(0), a.shape(1)}, torch::kFloat32);
  }

  torch::Tensor run(const torch::Tensor& x0, const torch::Tensor& index, const int64_t* b, int64_t n_bounds,
                    const torch::Tensor& pool) const {
    std::vector<torch::Tensor> acts;
    acts.reserve(steps_.size() + 1);
    acts.push_back(x0);
    for (const Step& s : steps_) {
      torch::Tensor x = acts[s.src];
      if (s.kind == 2) {
        torch::Tensor out = torch::mm(pool, x);
        return out.narrow(1, 0, out.size(1) - 1).contiguous();
      }
      if (s.table >= 0) {
        TORCH_CHECK(s.table + 1 < n_bounds, "WindowPlan: index table ", s.table, " missing");
        x = x.index_select(0, index.narrow(0, b[s.table], b[s.table + 1] - b[s.table])).view(s.view);
      }
      torch::Tensor y;
      if (s.kind == 1) {
        y = x.mul_(s.weight).sum(1);
        y = torch::addcmul(y, y.narrow(1, y.size(1) - 1, 1), s.bias);
      } else if (s.skip >= 0) {
        y = torch::addmm(acts[s.skip], x, s.weight);
      } else {
        y = torch::mm(x, s.weight);
      }
      if (s.act == 1) {
        y.clamp_min_(0.0);
      } else if (s.act == 2) {
        y.clamp_(0.0, 6.0);
      }
      acts.push_back(y);
    }
    TORCH_CHECK(false, "WindowPlan: the plan has no pool step");
  }

  std::vector<Step> steps_;
};

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  py::class_<WindowPlan>(m, "WindowPlan")
      .def(py::init<>())
      .def("add", &WindowPlan::add)
      .def("forward", &WindowPlan::forward);
}
