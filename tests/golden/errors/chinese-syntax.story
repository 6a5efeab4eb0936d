character 小猫:
  image: assets/kitten.png

shot opening:
  风声呼啸。
