// The per-window step loop of edgevision.nn.infer.WindowBackbone in C++ over ATen: the same PyTorch ops in the
// same order (equal results), without a Python call, argument parse and dispatch from Python per op.
// Built once per source hash by edgevision.nn.window_native (torch.utils.cpp_extension).
#include <torch/extension.h>

#include <vector>

namespace {

struct Step {
  int64_t kind;  // 0: conv (gather + mm, or addmm onto a residual), 1: depthwise, 2: grid pool (last)
  int64_t src, table, skip, act;  // act 0: none, 1: relu, 2: relu6
  std::vector<int64_t> view;
  torch::Tensor weight, bias;
};

class WindowPlan {
 public:
  void add(int64_t kind, int64_t src, int64_t table, std::vector<int64_t> view, torch::Tensor weight,
           torch::Tensor bias, int64_t skip, int64_t act) {
    steps_.push_back(Step{kind, src, table, skip, act, std::move(view), std::move(weight), std::move(bias)});
  }

  // x0 [N + 1, C + 1] augmented input; index tables t in index[bounds[t]:bounds[t + 1]]; pool [cells, N_last + 1].
  torch::Tensor forward(const torch::Tensor& x0, const torch::Tensor& index, const torch::Tensor& bounds,
                        const torch::Tensor& pool) const {
    c10::InferenceMode guard;
    TORCH_CHECK(bounds.dtype() == torch::kInt64 && bounds.is_contiguous(), "WindowPlan: bounds must be int64");
    const int64_t* b = bounds.data_ptr<int64_t>();
    std::vector<torch::Tensor> acts;
    acts.reserve(steps_.size() + 1);
    acts.push_back(x0);
    for (const Step& s : steps_) {
      torch::Tensor x = acts[s.src];
      if (s.kind == 2) {
        torch::Tensor out = torch::mm(pool, x);
        return out.narrow(1, 0, out.size(1) - 1).reshape({-1});
      }
      if (s.table >= 0) {
        TORCH_CHECK(s.table + 1 < bounds.numel(), "WindowPlan: index table ", s.table, " missing");
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

 private:
  std::vector<Step> steps_;
};

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  py::class_<WindowPlan>(m, "WindowPlan")
      .def(py::init<>())
      .def("add", &WindowPlan::add)
      .def("forward", &WindowPlan::forward);
}
