/* examples/tour.c — the README's complete example: fit y = sin(3x) with a small MLP.
 * Tensors, a module tree, a scoped training loop with Adam, errors checked once per step,
 * and a checkpoint. Build: see README.md ("A short tour"). */
#include <astrograd.h>
#include <stdio.h>

int main(void) {
    ag_device dev = ag_device_default();                 /* AG_DEVICE: "cpu" (unset), "cuda", "test" */
    ag_manual_seed(0);                                       /* reproducible init and data */
    ag_scope_begin();                                        /* temporaries die here; ag_keep: not these */
    ag_tensor *x = ag_keep(ag_reshape(ag_linspace_on(-1, 1, 256, AG_F64, dev), AG_SHAPE(256, 1)));
    ag_tensor *y = ag_keep(ag_sin(ag_mul_s(x, 3.0)));        /* targets */
    ag_scope_end();

    ag_module *net = AG_SEQUENTIAL(ag_nn_linear(1, 32, true), ag_nn_tanh(),
                                   ag_nn_linear(32, 32, true), ag_nn_tanh(),
                                   ag_nn_linear(32, 1, true));
    ag_module_to(net, dev);                                  /* parameters follow the data */
    ag_optim *opt = ag_adam(ag_module_params(net), (ag_adam_opts){.lr = 1e-2});
    if (!net || !opt) { fprintf(stderr, "%s\n", ag_last_error()); return 1; }

    double loss_value = 0;
    for (int step = 0; step < 500; step++) {
        ag_scope_begin();                                    /* every temporary dies at scope end */
        ag_tensor *loss = ag_mse_loss(ag_forward(net, x), y, AG_REDUCE_MEAN);
        ag_backward(loss);
        ag_optim_step(opt);
        ag_optim_zero_grad(opt);
        loss_value = ag_item(loss);
        ag_scope_end();
        if (ag_failed()) { fprintf(stderr, "step %d: %s\n", step, ag_last_error()); return 1; }
        if (step % 100 == 0) printf("step %3d  loss %.6f\n", step, loss_value);
    }
    printf("final loss %.2e\n", loss_value);

    if (ag_module_save(net, "tour_mlp.h5", opt) == 0) printf("saved tour_mlp.h5\n");
    else printf("checkpoint not saved: %s\n", ag_last_error());
    ag_clear_error();

    ag_optim_free(opt);
    ag_module_free(net);
    ag_release(x);
    ag_release(y);
    return loss_value < 1e-3 ? 0 : 1;
}
