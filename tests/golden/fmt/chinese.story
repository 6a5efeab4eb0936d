# 小猫将军
title: 小猫将军
style: 史诗般的古代战争氛围，雪山上空乌云密布，电影级光影。

character Kitten:
  image: cast/kitten.png
  description: 一只穿着金色盔甲的可爱卡通小猫将军  # 主角

shot opening 5s:
  @Kitten 站在悬崖上，披风飘扬，俯瞰山谷。
  镜头缓缓升起，
  直到俯瞰整个战场。
  @Kitten (大喊): "冲啊，勇敢的老鼠们！"
  camera: 从平视缓慢升至鸟瞰
  sound: 呼啸的风声，远处的战鼓

scene battle 12s:
  shot 4s: 山谷的广角航拍，老鼠们涌过山脊。
  shot: 两军在雪雾中相撞。
