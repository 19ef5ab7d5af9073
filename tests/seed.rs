//! The seed derivation is part of every result: changing it silently would change every number,
//! so its outputs are pinned by a golden snapshot (produced by the code, see `make golden`).

use dnlts::seed::{derive, DEFAULT_MASTER_SEED};

#[test]
fn derived_seeds_match_the_golden_snapshot() {
    let seeds: Vec<(String, u64)> =
        [("table1", "pretrain"), ("table1", "finetune"), ("fig4", "noise")]
            .iter()
            .map(|(target, stage)| {
                (format!("{target}/{stage}"), derive(DEFAULT_MASTER_SEED, target, stage))
            })
            .collect();
    insta::with_settings!({ snapshot_path => "../golden/seed", prepend_module_to_snapshot => false }, {
        insta::assert_json_snapshot!("derived_seeds", seeds);
    });
}

#[test]
fn each_input_changes_the_seed() {
    let base = derive(7, "fig6", "finetune");
    assert_eq!(base, derive(7, "fig6", "finetune"));
    assert_ne!(base, derive(8, "fig6", "finetune"));
    assert_ne!(base, derive(7, "fig7", "finetune"));
    assert_ne!(base, derive(7, "fig6", "pretrain"));
    // Length prefixes keep the boundary between target and stage.
    assert_ne!(derive(7, "ab", "c"), derive(7, "a", "bc"));
}

#[test]
fn applying_the_settings_makes_libtorch_repeat_itself() {
    let draw = || {
        dnlts::seed::Determinism::new(derive(1, "t", "s"), 1).apply();
        Vec::<f32>::try_from(tch::Tensor::randn([16], (tch::Kind::Float, tch::Device::Cpu)))
            .unwrap()
    };
    assert_eq!(draw(), draw());
    assert_eq!(tch::get_num_threads(), 1);
}
