# 小猫将军：一个中文短片
title: 小猫将军
style: 史诗般的古代战争氛围，雪山上空翻涌的云层。

character Kitten:
  image: cast/kitten.png
  description: 身穿金色铠甲的可爱小猫将军

shot opening 5s:
  @Kitten 站在悬崖上，披风在风中飘扬。   # 注释
  @Kitten (大喊): "勇敢的老鼠们，冲啊！"
  camera: 从平视缓缓升到俯瞰
  sound: 呼啸的风声

scene battle 10s:
  shot 4s: 老鼠大军越过山脊。
  shot: @Kitten 坚定的面孔。
