;; `multi-memory`: a hostile component with sixteen core instances, each growing a memory of its
;; own to 31 MiB.
;;
;; Each memory stays under a 32 MiB cap; together they hold 496 MiB. A host that capped each
;; linear memory on its own would let the component hold the sum. The host must cap the whole
;; component instance (every memory and table together) and refuse it with `memory-limit`.
;;
;; No guest toolchain builds a component like this, so it is written by hand in the component
;; model's text format; the tests assemble it with the `wat` crate.
(component
  ;; One page at first, 495 more at start-up: 496 pages of 64 KiB, 31 MiB.
  (core module $grower
    (memory 1)
    (func $grow (drop (memory.grow (i32.const 495))))
    (start $grow))
  (core instance $m0 (instantiate $grower))
  (core instance $m1 (instantiate $grower))
  (core instance $m2 (instantiate $grower))
  (core instance $m3 (instantiate $grower))
  (core instance $m4 (instantiate $grower))
  (core instance $m5 (instantiate $grower))
  (core instance $m6 (instantiate $grower))
  (core instance $m7 (instantiate $grower))
  (core instance $m8 (instantiate $grower))
  (core instance $m9 (instantiate $grower))
  (core instance $m10 (instantiate $grower))
  (core instance $m11 (instantiate $grower))
  (core instance $m12 (instantiate $grower))
  (core instance $m13 (instantiate $grower))
  (core instance $m14 (instantiate $grower))
  (core instance $m15 (instantiate $grower))

  ;; The exports the host looks for by name. Their types do not matter here: the host must stop
  ;; the component when it instantiates it, before it calls anything.
  (core module $main
    (func (export "nothing")))
  (core instance $main (instantiate $main))
  (func $describe (canon lift (core func $main "nothing")))
  (func $begin (canon lift (core func $main "nothing")))
  (func $map-row (canon lift (core func $main "nothing")))
  (instance $metadata (export "describe" (func $describe)))
  (instance $field-mapper
    (export "begin" (func $begin))
    (export "map-row" (func $map-row)))
  (export "cs:plugin/metadata@0.1.0" (instance $metadata))
  (export "cs:plugin/field-mapper@0.1.0" (instance $field-mapper))
)
