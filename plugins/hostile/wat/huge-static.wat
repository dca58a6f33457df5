;; `huge-static`: a hostile component whose memory starts at 300 MiB.
;;
;; The memory is declared with a minimum of 4,800 pages of 64 KiB, as a plugin with a 300 MiB
;; static array would be. It never grows: it is too big before any of its code runs. The host
;; must refuse it with `memory-limit`, the plugin's fault, not report a host error.
;;
;; Written by hand in the component model's text format; the tests assemble it with `wat`.
(component
  (core module $huge
    (memory 4800)
    (data (i32.const 0) "static data"))
  (core instance $huge (instantiate $huge))

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
